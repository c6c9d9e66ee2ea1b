package config

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// OpenADR configures OpenADR 2.0b in the server: a VTN under amigo's own
// HTTP that publishes demand-response programs to the VENs standing for
// households, and a VEN that takes a utility's or aggregator's events
// into a program here. Both are off by default.
//
//	openadr:
//	  vtn:
//	    enabled: true
//	    addr: ":8443"                  # its own TLS listener; VENs need client certificates
//	    cert_file: vtn.pem
//	    key_file: vtn.key
//	    client_ca_file: vens-ca.pem    # the CAs VENs' certificates are verified against
//	    insecure: false                # true: no TLS, under amigo's HTTP, anyone may claim any VEN id
//	    id: AMIGO-VTN                  # openleadr VENs refuse an all-lowercase id
//	    programs: [peak-limit]         # dr programs published
//	    poll: 10s                      # the poll frequency asked of VENs
//	    vens:                          # the usage points each VEN id stands for
//	      "9F:1C:...:07": [up-1, up-2] # a VEN id is its certificate's fingerprint,
//	      ven-home-1: [up-3]           # or a name bound to one in fingerprints
//	    fingerprints:
//	      ven-home-1: "AB:CD:...:EF"
//	  ven:
//	    vtn_url: https://vtn.example/OpenADR2/Simple/2.0b   # AMIGO_OPENADR_VTN_URL; empty: off
//	    name: amigo
//	    ven_id: ""                     # empty: the fingerprint of cert_file, else the VTN assigns one
//	    cert_file: ven.pem             # the VEN's client certificate and key
//	    key_file: ven.key
//	    ca_file: vtn-ca.pem            # the CAs the VTN's certificate is verified against; empty: the system's
//	    program: grid-events           # the dr program the VTN's events become events of
//	    poll: 0s                       # 0: the VTN's poll frequency
//	    timeout: 30s
type OpenADR struct {
	VTN OpenADRVTN `yaml:"vtn"`
	VEN OpenADRVEN `yaml:"ven"`
}

// OpenADRVTN is the VTN served at /OpenADR2/Simple/2.0b/.
type OpenADRVTN struct {
	Enabled  bool                `yaml:"enabled"`
	ID       string              `yaml:"id"`
	Programs []string            `yaml:"programs"`
	Poll     time.Duration       `yaml:"poll"`
	VENs     map[string][]string `yaml:"vens"`
	// MarketContext prefixes a program's id in its events' market
	// context; empty means "urn:amigo:dr:program:".
	MarketContext string `yaml:"market_context"`
	// Fingerprints binds VEN ids that are names to the fingerprint of the
	// certificate that may use them.
	Fingerprints map[string]string `yaml:"fingerprints"`
	// The VTN's own TLS listener, client certificates required.
	Addr         string `yaml:"addr"`
	CertFile     string `yaml:"cert_file"`
	KeyFile      string `yaml:"key_file"`
	ClientCAFile string `yaml:"client_ca_file"`
	// Insecure serves the VTN without TLS under amigo's HTTP: any client
	// may then speak for any VEN. Only when chosen.
	Insecure bool `yaml:"insecure"`
}

// TLS reports whether the VTN has its own TLS listener.
func (t OpenADRVTN) TLS() bool { return t.CertFile != "" }

// OpenADRVEN is the VEN that polls another VTN.
type OpenADRVEN struct {
	VTNURL  string        `yaml:"vtn_url"`
	Name    string        `yaml:"name"`
	VENID   string        `yaml:"ven_id"`
	Program string        `yaml:"program"`
	Poll    time.Duration `yaml:"poll"`
	Timeout time.Duration `yaml:"timeout"`
	// The VEN's client certificate and key, and the CAs the VTN's
	// certificate is verified against (empty: the system's).
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	CAFile   string `yaml:"ca_file"`
}

func init() {
	Env["AMIGO_OPENADR_VTN_URL"] = "the VTN amigo's OpenADR VEN polls (empty: no VEN)"
}

// DefaultOpenADR is off, with the VTN's id and poll frequency ready.
func DefaultOpenADR() OpenADR {
	return OpenADR{
		VTN: OpenADRVTN{ID: "AMIGO-VTN", Poll: 10 * time.Second},
		VEN: OpenADRVEN{Name: "amigo", Timeout: 30 * time.Second},
	}
}

// Enabled reports whether a VTN URL is configured.
func (v OpenADRVEN) Enabled() bool { return v.VTNURL != "" }

func (o *OpenADR) applyEnv(lookup func(string) (string, bool)) {
	if v, _ := lookup("AMIGO_OPENADR_VTN_URL"); v != "" {
		o.VEN.VTNURL = v
	}
}

func (o OpenADR) validate() error {
	if t := o.VTN; t.Enabled {
		switch {
		case strings.TrimSpace(t.ID) == "":
			return errors.New("openadr.vtn.id must not be empty")
		case len(t.Programs) == 0:
			return errors.New("openadr.vtn.programs: name the demand-response programs the VTN publishes")
		case t.Poll < time.Second:
			return fmt.Errorf("openadr.vtn.poll %s: want at least 1s", t.Poll)
		}
		if slices.Contains(t.Programs, "") {
			return errors.New("openadr.vtn.programs: an empty program id")
		}
		tlsSet := t.Addr != "" || t.CertFile != "" || t.KeyFile != "" || t.ClientCAFile != ""
		switch {
		case tlsSet && t.Insecure:
			return errors.New("openadr.vtn.insecure is set with TLS settings: choose TLS (addr, cert_file, key_file, client_ca_file) or insecure")
		case tlsSet && (t.Addr == "" || t.CertFile == "" || t.KeyFile == "" || t.ClientCAFile == ""):
			return errors.New("openadr.vtn: TLS needs addr, cert_file, key_file and client_ca_file together")
		case !tlsSet && !t.Insecure:
			return errors.New("openadr.vtn: OpenADR 2.0b identifies VENs by their TLS client certificates, and without them " +
				"anyone knowing a VEN id can register as it and opt its households out: set addr, cert_file, key_file and " +
				"client_ca_file, or openadr.vtn.insecure: true to serve it without authentication under amigo's HTTP")
		}
		for ven, fp := range t.Fingerprints {
			if ven == "" || !isFingerprint(fp) {
				return fmt.Errorf("openadr.vtn.fingerprints: VEN %q: %q is not a fingerprint (10 hex bytes, colon separated)", ven, fp)
			}
		}
		seen := map[string]string{}
		for ven, ups := range t.VENs {
			if ven == "" {
				return errors.New("openadr.vtn.vens: an empty VEN id")
			}
			for _, up := range ups {
				if other, ok := seen[up]; ok {
					return fmt.Errorf("openadr.vtn.vens: usage point %q stands behind VEN %q and VEN %q", up, other, ven)
				}
				seen[up] = ven
			}
		}
	}
	v := o.VEN
	if !v.Enabled() {
		return nil
	}
	u, err := url.Parse(v.VTNURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("openadr.ven.vtn_url %q: want http(s)://host/OpenADR2/Simple/2.0b", RedactURL(v.VTNURL))
	}
	switch {
	case v.Name == "":
		return errors.New("openadr.ven.name must not be empty")
	case v.Program == "":
		return errors.New("openadr.ven.program: name the demand-response program the VTN's events become events of")
	case v.Poll < 0:
		return fmt.Errorf("openadr.ven.poll %s is negative", v.Poll)
	case v.Timeout <= 0:
		return errors.New("openadr.ven.timeout must be positive")
	case (v.CertFile == "") != (v.KeyFile == ""):
		return errors.New("openadr.ven: cert_file and key_file go together")
	case v.CertFile != "" && u.Scheme != "https":
		return fmt.Errorf("openadr.ven.vtn_url %q: a client certificate needs https", RedactURL(v.VTNURL))
	case v.CAFile != "" && v.CertFile == "":
		return errors.New("openadr.ven.ca_file without cert_file: 2.0b needs the VEN's certificate too")
	}
	return nil
}

// isFingerprint: 10 bytes in hex, colon separated, either case.
func isFingerprint(s string) bool {
	if len(s) != 29 {
		return false
	}
	for i, c := range s {
		switch {
		case i%3 == 2:
			if c != ':' {
				return false
			}
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return false
		}
	}
	return true
}
