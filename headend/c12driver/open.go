package c12driver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"time"

	"github.com/amigo-ami/amigo/c1218"
	"github.com/amigo-ami/amigo/c1222"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/psem"
)

// Open implements headend.Driver: it connects, opens the PSEM session
// (C12.18: ident, negotiate, logon, security; C12.22: the association
// under EAX' and a logon), reads ST0 and ST1, and takes the meter's
// template, learning it when this kind of meter is new.
func (d *Driver) Open(ctx context.Context, t headend.Target) (headend.Session, error) {
	u, err := url.Parse(t.Meter.Address)
	if err != nil || u.Scheme != "tcp" || u.Host == "" {
		return nil, fmt.Errorf("meter %s: address %q: want tcp://host:port", t.Meter.MRID, t.Meter.Address)
	}
	creds, err := ParseCredentials(t.Credentials)
	if err != nil {
		return nil, fmt.Errorf("meter %s: credentials: %w", t.Meter.MRID, err)
	}
	s := &session{d: d, t: t, loc: t.Location, now: t.Now}
	if s.loc == nil {
		s.loc = time.UTC
	}
	if s.now == nil {
		s.now = time.Now
	}
	if d.mode == modeC1222 {
		err = s.open1222(ctx, u.Host, creds)
	} else {
		err = s.open1218(ctx, u.Host, creds)
	}
	if err != nil {
		return nil, err
	}
	if err := s.configure(ctx); err != nil {
		s.abort()
		return nil, err
	}
	return s, nil
}

// open1218 opens a C12.18 session over TCP.
func (s *session) open1218(ctx context.Context, host string, c Credentials) error {
	var opts []c1218.Option
	if s.d.cfg.Timeout > 0 {
		tm := c1218.OpticalTimers
		tm.Response = s.d.cfg.Timeout
		tm.Traffic = max(tm.Traffic, 3*s.d.cfg.Timeout)
		opts = append(opts, c1218.WithTimers(tm))
	}
	l, err := c1218.Dial(ctx, host, opts...)
	if err != nil {
		return fmt.Errorf("meter %s: %w", s.t.Meter.MRID, err)
	}
	login := c1218.Login{UserID: c.UserID, User: c.User}
	if len(c.Password) > 0 {
		login.Password = c.Password
	}
	cl, _, err := c1218.Open(ctx, l, login)
	if err != nil {
		l.Close()
		return fmt.Errorf("meter %s: session: %w", s.t.Meter.MRID, err)
	}
	s.c = cl
	s.close = func(context.Context) error { return l.Close() }
	return nil
}

// open1222 opens a C12.22 association with the meter: every request in
// security mode 2 (ciphertext with authentication, EAX') under the key
// the manifest gives, then a logon with the manifest's user id.
func (s *session) open1222(ctx context.Context, host string, c Credentials) error {
	called, err := c1222.ParseApTitle(c.ApTitle)
	if err != nil {
		return fmt.Errorf("meter %s: %w", s.t.Meter.MRID, err)
	}
	calling, err := c1222.ParseApTitle(s.d.cfg.ApTitle)
	if err != nil {
		return fmt.Errorf("meter %s: the head-end's ApTitle: %w", s.t.Meter.MRID, err)
	}
	timeout := s.d.cfg.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	cl, err := c1222.Dial(ctx, host, c1222.Config{Called: called, Calling: calling, Mode: c1222.ModeCiphertext,
		KeyID: c.KeyID, Key: c.Key, UserID: c.UserID, Timeout: timeout})
	if err != nil {
		return fmt.Errorf("meter %s: %w", s.t.Meter.MRID, err)
	}
	s.c = psem.NewClient(cl)
	s.close = func(context.Context) error { return cl.Close() }
	if err := s.c.Logon(ctx, c.UserID, c1222User); err != nil {
		cl.Close()
		// A meter drops a request it cannot verify unanswered: silence
		// to the first request of a connection it accepted is, as far as
		// the head-end can tell, a key the meter does not share.
		if isTimeout(err) && ctx.Err() == nil {
			return fmt.Errorf("meter %s: %w: no answer under key %d (the meter's key differs, or it does not answer): %v",
				s.t.Meter.MRID, errAuth, c.KeyID, err)
		}
		return fmt.Errorf("meter %s: logon: %w", s.t.Meter.MRID, err)
	}
	return nil
}

// c1222User is the user name the head-end logs on to C12.22 meters with;
// the user id comes from the manifest.
const c1222User = "amigo"

// defaultTimeout bounds one C12.22 exchange when Config sets none.
const defaultTimeout = 10 * time.Second

// abort drops the connection of a session that could not be set up.
func (s *session) abort() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	s.close(ctx)
}

var _ psem.Exchanger = (*c1218.Link)(nil)

// isTimeout reports an exchange that ran out of time.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
