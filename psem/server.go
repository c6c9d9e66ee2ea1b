package psem

import (
	"bytes"
	"context"
	"crypto/des"
	"crypto/rand"
	"errors"
	"time"
)

// ServerConfig is what a meter side says about itself and how it grants
// access.
type ServerConfig struct {
	// Ident is the ident response's standard, version, revision and
	// features. With AuthKey set, a DES ticket feature is added, a fresh
	// ticket for each ident.
	Ident Ident
	// Logon accepts or refuses a user (nil: anyone). A refusal is a
	// Code, answered as is, or any error, answered ERR.
	Logon func(userID uint16, user string) error
	// Security checks the password the logged-on user presents, and
	// returns the tables the session may use from then on (nil: the
	// same as before). Nil: the security service is not supported.
	Security func(userID uint16, user string, password [PasswordLen]byte) (Tables, error)
	// AuthKey returns the C12.21 DES key keyID names and the tables the
	// session may use once authenticated with it (nil: the same). Nil:
	// no C12.21 authentication.
	AuthKey func(keyID uint8) (key []byte, granted Tables, err error)
	// MaxPacketSize and MaxPackets bound what negotiate grants (zero:
	// 8192 octets, 255 packets). Bauds lists the baud rate codes the
	// meter can switch to; empty means a medium without a rate (TCP),
	// which grants the first code offered and changes nothing.
	MaxPacketSize uint16
	MaxPackets    uint8
	Bauds         []byte
	// Timing bounds what timing setup grants, each timer and the
	// retries at most these (zero: the value asked for). Nil: timing
	// setup is not supported.
	Timing *Timing
	// EndSession, when set, is called whenever a session ends (logoff,
	// terminate, disconnect, a link reset): for a store that keeps the
	// session's clearance itself (c1219.Store's SetLevel) to drop it.
	EndSession func()
	// DefaultTable is the table read default returns; HasDefault says
	// there is one.
	DefaultTable uint16
	HasDefault   bool
	// Sessionless answers reads, writes and the rest in any state, as
	// C12.22's session-less requests need.
	Sessionless bool
}

// State is where a link's service sequence stands.
type State int

// The service sequence states of C12.18: base (link up, nothing said),
// ID (identified) and session (logged on).
const (
	StateBase State = iota
	StateID
	StateSession
)

func (s State) String() string {
	return [...]string{"base", "id", "session"}[s]
}

// Server answers the PSEM requests of one link from a table store,
// keeping the link's state. It is not safe for concurrent use; a link
// serves one request at a time.
type Server struct {
	cfg    ServerConfig
	public Tables
	tables Tables
	state  State
	userID uint16
	user   string
	ticket []byte
}

// NewServer returns the meter side of one link over tables, the tables
// a session may use before security grants more.
func NewServer(tables Tables, cfg ServerConfig) *Server {
	if cfg.MaxPacketSize == 0 {
		cfg.MaxPacketSize = 8192
	}
	if cfg.MaxPackets == 0 {
		cfg.MaxPackets = 255
	}
	return &Server{cfg: cfg, public: tables, tables: tables}
}

// Reply is a request's answer and what it changes on the link once it is
// sent.
type Reply struct {
	Data []byte
	// Negotiated is set when a negotiate was granted: the link applies
	// it after sending Data.
	Negotiated *Negotiated
	// Timing is set when a C12.21 timing setup was granted.
	Timing *Timing
	// Wait is the channel hold a wait request asked for.
	Wait time.Duration
	// End says the session ended (terminate, disconnect): the link
	// returns to its defaults. Hangup says the link is to close.
	End, Hangup bool
}

// State reports the link's service sequence state.
func (s *Server) State() State { return s.state }

// User reports the logged-on user.
func (s *Server) User() (userID uint16, user string) { return s.userID, s.user }

// Reset returns the link to its base state, as after a lost link or a
// channel traffic timeout.
func (s *Server) Reset() {
	if s.cfg.EndSession != nil && s.state == StateSession {
		s.cfg.EndSession()
	}
	s.state = StateBase
	s.tables = s.public
	s.userID, s.user, s.ticket = 0, "", nil
}

// Exchange answers one request, so a Server is an Exchanger a client can
// talk to directly.
func (s *Server) Exchange(ctx context.Context, req []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.Handle(req).Data, nil
}

func code(err error) []byte {
	var c Code
	if errors.As(err, &c) && c != OK {
		return []byte{byte(c)}
	}
	return []byte{byte(ERR)}
}

// Handle answers one request.
func (s *Server) Handle(b []byte) Reply {
	r, err := ParseRequest(b)
	if err != nil {
		if len(b) > 0 && !knownCode(b[0]) {
			return Reply{Data: []byte{byte(SNS)}}
		}
		return Reply{Data: []byte{byte(ERR)}}
	}
	in := func(states ...State) bool {
		if s.cfg.Sessionless {
			return true
		}
		for _, st := range states {
			if s.state == st {
				return true
			}
		}
		return false
	}
	isss := Reply{Data: []byte{byte(ISSS)}}
	ok := Reply{Data: []byte{byte(OK)}}
	c := r.Code
	switch {
	case c == ReqIdent:
		if !in(StateBase, StateID) {
			return isss
		}
		id := s.cfg.Ident
		if s.cfg.AuthKey != nil {
			s.ticket = make([]byte, des.BlockSize)
			rand.Read(s.ticket)
			id.Features = append(append([]Feature(nil), id.Features...), AuthTicketFeature(s.ticket))
		}
		s.state = StateID
		return Reply{Data: id.Marshal()}
	case c == ReqTerminate:
		s.Reset()
		return Reply{Data: ok.Data, End: true}
	case c == ReqDisconnect:
		s.Reset()
		return Reply{Data: ok.Data, End: true, Hangup: true}
	case c == ReqWait:
		if !in(StateID, StateSession) {
			return isss
		}
		return Reply{Data: ok.Data, Wait: time.Duration(r.Seconds) * time.Second}
	case c >= ReqNegotiate && c <= ReqNegotiate+11:
		if !in(StateID) {
			return isss
		}
		n := Negotiated{PacketSize: min(r.PacketSize, s.cfg.MaxPacketSize), Packets: min(r.Packets, s.cfg.MaxPackets)}
		if n.Packets == 0 {
			n.Packets = 1
		}
		if len(s.cfg.Bauds) == 0 {
			if len(r.Bauds) > 0 {
				n.Baud = r.Bauds[0]
			}
		} else {
			for _, want := range r.Bauds {
				if bytes.IndexByte(s.cfg.Bauds, want) >= 0 {
					n.Baud = want
					break
				}
			}
		}
		return Reply{Data: n.Marshal(), Negotiated: &n}
	case c == ReqTimingSetup:
		if s.cfg.Timing == nil {
			return Reply{Data: []byte{byte(SNS)}}
		}
		if !in(StateID) {
			return isss
		}
		t := r.Timing
		lim := *s.cfg.Timing
		bound := func(v *uint8, m uint8) {
			if m != 0 && (*v == 0 || *v > m) {
				*v = m
			}
		}
		bound(&t.Traffic, lim.Traffic)
		bound(&t.InterChar, lim.InterChar)
		bound(&t.Response, lim.Response)
		bound(&t.Retries, lim.Retries)
		return Reply{Data: t.Marshal(), Timing: &t}
	case c == ReqLogon:
		if !in(StateID) {
			return isss
		}
		if s.cfg.Logon != nil {
			if err := s.cfg.Logon(r.UserID, r.User); err != nil {
				return Reply{Data: code(err)}
			}
		}
		s.userID, s.user = r.UserID, r.User
		s.state = StateSession
		return ok
	case c == ReqLogoff:
		if !in(StateSession) {
			return isss
		}
		if s.cfg.EndSession != nil {
			s.cfg.EndSession()
		}
		s.state = StateID
		s.tables = s.public
		s.userID, s.user = 0, ""
		return ok
	case c == ReqSecurity:
		if s.cfg.Security == nil {
			return Reply{Data: []byte{byte(SNS)}}
		}
		if !in(StateSession) {
			return isss
		}
		user := r.UserID
		if !r.HasUserID {
			user = s.userID
		}
		t, err := s.cfg.Security(user, s.user, r.Password)
		if err != nil {
			return Reply{Data: code(err)}
		}
		if t != nil {
			s.tables = t
		}
		return ok
	case c == ReqAuthenticate:
		if s.cfg.AuthKey == nil {
			return Reply{Data: []byte{byte(SNS)}}
		}
		if !in(StateSession) || s.ticket == nil {
			return isss
		}
		key, granted, err := s.cfg.AuthKey(r.KeyID)
		if err != nil {
			return Reply{Data: code(err)}
		}
		blk, err := des.NewCipher(key)
		if err != nil || len(r.Data) != des.BlockSize {
			return Reply{Data: []byte{byte(ERR)}}
		}
		want := make([]byte, des.BlockSize)
		blk.Encrypt(want, s.ticket)
		if !bytes.Equal(want, r.Data) {
			return Reply{Data: []byte{byte(ISC)}}
		}
		s.ticket = nil // one ticket, one try
		if granted != nil {
			s.tables = granted
		}
		proof := make([]byte, des.BlockSize)
		blk.Encrypt(proof, r.Data)
		return Reply{Data: AuthenticateResponse(r.KeyID, proof)}
	}
	// Reads and writes.
	if !in(StateSession) {
		return isss
	}
	var data []byte
	switch {
	case c == ReqReadFull:
		data, err = s.tables.ReadTable(r.Table)
	case c == ReqReadDefault:
		if !s.cfg.HasDefault {
			return Reply{Data: []byte{byte(SNS)}}
		}
		data, err = s.tables.ReadTable(s.cfg.DefaultTable)
	case c == ReqReadOffset:
		data, err = s.tables.ReadOffset(r.Table, r.Offset, r.Count)
	case c >= ReqReadIndex1 && c < ReqReadIndex1+MaxIndex:
		data, err = s.tables.ReadIndex(r.Table, r.Index, r.Count)
	case c == ReqWriteFull:
		err = s.tables.WriteTable(r.Table, r.Data)
	case c == ReqWriteOffset:
		err = s.tables.WriteOffset(r.Table, r.Offset, r.Data)
	default: // write index: ParseRequest knows no other code
		err = s.tables.WriteIndex(r.Table, r.Index, r.Data)
	}
	if err != nil {
		return Reply{Data: code(err)}
	}
	if c >= ReqWriteFull {
		return ok
	}
	if len(data) > 0xFFFF {
		return Reply{Data: []byte{byte(ONP)}}
	}
	return Reply{Data: TableResponse(data)}
}
