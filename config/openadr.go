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
//	    id: AMIGO-VTN                  # openleadr VENs refuse an all-lowercase id
//	    programs: [peak-limit]         # dr programs published
//	    poll: 10s                      # the poll frequency asked of VENs
//	    vens:                          # the usage points each VEN id stands for
//	      ven-home-1: [up-1, up-2]
//	  ven:
//	    vtn_url: https://vtn.example/OpenADR2/Simple/2.0b   # AMIGO_OPENADR_VTN_URL; empty: off
//	    name: amigo
//	    ven_id: ""                     # empty: the VTN assigns one
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
}

// OpenADRVEN is the VEN that polls another VTN.
type OpenADRVEN struct {
	VTNURL  string        `yaml:"vtn_url"`
	Name    string        `yaml:"name"`
	VENID   string        `yaml:"ven_id"`
	Program string        `yaml:"program"`
	Poll    time.Duration `yaml:"poll"`
	Timeout time.Duration `yaml:"timeout"`
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
	}
	return nil
}
