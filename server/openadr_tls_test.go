package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/dr"
	"github.com/amigo-ami/amigo/openadr"
)

// pki is a test CA writing the certificates it issues as PEM files.
type pki struct {
	dir    string
	ca     *x509.Certificate
	key    *ecdsa.PrivateKey
	serial int64
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir(), serial: 1}
	var err error
	if p.key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &p.key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	if p.ca, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	p.write(t, "ca.pem", "CERTIFICATE", der)
	return p
}

func (p *pki) write(t *testing.T, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// issue writes name.pem and name.key: a server certificate for
// 127.0.0.1, or a client certificate.
func (p *pki) issue(t *testing.T, name string, server bool) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p.serial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(p.serial), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage, tmpl.IPAddresses = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return p.write(t, name+".pem", "CERTIFICATE", der), p.write(t, name+".key", "PRIVATE KEY", kb)
}

// venWith is a VEN with the certificate issued to name, and its
// fingerprint.
func (p *pki) venWith(t *testing.T, url, name string) (*openadr.VEN, string) {
	t.Helper()
	cf, kf := p.issue(t, name, false)
	tc, fp, err := openadr.ClientTLS(cf, kf, filepath.Join(p.dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return &openadr.VEN{URL: url, Name: name, HTTP: &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}}, fp
}

// TestOpenADRVTNNeedsTLSOrInsecure: a VTN enabled without TLS does not
// start unless insecure is chosen.
func TestOpenADRVTNNeedsTLSOrInsecure(t *testing.T) {
	c := testConfig(t.TempDir())
	c.OpenADR.VTN.Enabled = true
	c.OpenADR.VTN.Programs = []string{"peak"}
	_, err := Start(context.Background(), c, slog.New(slog.DiscardHandler), "test")
	if err == nil || !strings.Contains(err.Error(), "openadr.vtn.insecure: true") || !strings.Contains(err.Error(), "client certificates") {
		t.Fatalf("start without TLS: %v", err)
	}
}

// TestOpenADRVTNOverTLS: the VTN on its own TLS listener; a VEN whose
// certificate's fingerprint is configured hears the event and opts its
// household out; a VEN without a certificate fails the handshake; one
// with another certificate claiming that VEN's id is refused (452) and dr
// is untouched by it; the VTN is not under amigo's plain HTTP.
func TestOpenADRVTNOverTLS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := newPKI(t)
	scf, skf := p.issue(t, "vtn", true)
	url := ""
	home, fp := p.venWith(t, "", "home-1")
	mallory, mfp := p.venWith(t, "", "mallory")

	c := testConfig(t.TempDir())
	c.OpenADR.VTN.Enabled = true
	c.OpenADR.VTN.Programs = []string{"peak"}
	c.OpenADR.VTN.Addr, c.OpenADR.VTN.CertFile, c.OpenADR.VTN.KeyFile = "127.0.0.1:0", scf, skf
	c.OpenADR.VTN.ClientCAFile = filepath.Join(p.dir, "ca.pem")
	c.OpenADR.VTN.VENs = map[string][]string{strings.ToLower(fp): {"up-1"}}
	s := start(t, c)
	defer s.Shutdown(context.Background())
	url = "https://" + s.OpenADRAddr() + "/OpenADR2/Simple/2.0b"
	home.URL, mallory.URL = url, url

	if err := s.Store.PutUsagePoints(ctx, cim.UsagePoint{MRID: "up-1", TimeZone: "UTC"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Store.PutMeters(ctx, cim.Meter{MRID: "m1", UsagePointID: "up-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DR.PutProgram(ctx, dr.Program{ID: "peak", Name: "Winter peak", Kind: dr.KindLoadLimit, Notice: 2 * time.Hour, Baseline: dr.Method10of10}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DR.Enrol(ctx, dr.Enrolment{ProgramID: "peak", UsagePointID: "up-1", MeterID: "m1", From: time.Now().Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	startAt := time.Now().Add(24 * time.Hour).Truncate(time.Hour)
	ev, _, err := s.DR.CreateEvent(ctx, dr.Event{ProgramID: "peak", Start: startAt, End: startAt.Add(2 * time.Hour), Signal: dr.Signal{ThresholdW: 2500}}, "olga")
	if err != nil {
		t.Fatal(err)
	}

	// Another certificate claiming home-1's id: refused, dr untouched.
	mallory.VENID = fp
	var ce *openadr.CodeError
	if err := mallory.Register(ctx); !errors.As(err, &ce) || ce.Code != openadr.CodeInvalidID || !strings.Contains(ce.Description, mfp) {
		t.Fatalf("mallory registering as home-1: %v", err)
	}
	if _, err := mallory.OptOut(ctx, ev.ID, 0, "mischief"); !errors.As(err, &ce) || ce.Code != openadr.CodeInvalidID {
		t.Fatalf("mallory opting home-1 out: %v", err)
	}
	// No certificate: the connection is refused before any OpenADR is
	// spoken. Under TLS 1.3 the client may finish its side of the
	// handshake and learn of the refusal as the server's alert
	// ("certificate required") or as the connection closing under its
	// request (a broken pipe, a reset): any of them, never an answer.
	roots := x509.NewCertPool()
	roots.AddCert(p.ca)
	bare := &openadr.VEN{URL: url, Name: "bare", VENID: fp, HTTP: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}}
	if err := bare.Register(ctx); err == nil || errors.As(err, &ce) ||
		!(strings.Contains(err.Error(), "certificate") || strings.Contains(err.Error(), "broken pipe") ||
			strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "EOF")) {
		t.Fatalf("register without a certificate: %v", err)
	}
	if parts, err := s.DR.Participations(ctx, ev.ID); err != nil || len(parts) != 1 || parts[0].OptedOut() {
		t.Fatalf("participants after the refusals %+v %v", parts, err)
	}
	// Not under amigo's plain HTTP.
	if code, _ := get(t, "http://"+s.Addr()+"/OpenADR2/Simple/2.0b/OadrPoll"); code == http.StatusOK || code == http.StatusMethodNotAllowed {
		t.Fatalf("VTN under amigo's HTTP: %d", code)
	}

	if err := home.Register(ctx); err != nil {
		t.Fatal(err)
	}
	if home.VENID != fp {
		t.Fatalf("home-1 registered as %q, its fingerprint is %s", home.VENID, fp)
	}
	if got, err := home.Poll(ctx); err != nil || got != "oadrDistributeEvent" || len(home.Events()) != 1 {
		t.Fatalf("poll %s %v, events %v", got, err, home.Events())
	}
	if _, err := home.OptOut(ctx, ev.ID, home.Events()[ev.ID].Modification, "away"); err != nil {
		t.Fatal(err)
	}
	if parts, err := s.DR.Participations(ctx, ev.ID); err != nil || len(parts) != 1 || !parts[0].OptedOut() {
		t.Fatalf("participants %+v %v", parts, err)
	}
}

// TestOpenADRVENWithCertificate: the node's VEN connects with its
// certificate to a VTN requiring one, registers as its fingerprint and
// takes the VTN's event.
func TestOpenADRVENWithCertificate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := newPKI(t)
	scf, skf := p.issue(t, "vtn", true)
	tc, err := openadr.ServerTLS(scf, skf, filepath.Join(p.dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	start0 := time.Now().Add(48 * time.Hour).Truncate(time.Hour)
	src := &staticVTN{event: openadr.Event{ID: "grid-7", Created: time.Now(), Start: start0, Duration: time.Hour, Status: openadr.StatusFar, ResponseRequired: true,
		Signals: []openadr.Signal{{Name: openadr.SignalSimple, Type: openadr.TypeLevel, ID: "simple", Value: 2},
			{Name: openadr.SignalLoadDispatch, Type: openadr.TypeSetpoint, ID: "threshold", Item: openadr.RealPower(), Value: 3000}}}}
	vtn := &openadr.VTN{ID: "GRID-VTN", Source: src, PollFreq: time.Second}
	hs := httptest.NewUnstartedServer(vtn)
	hs.TLS = tc
	hs.Config.ErrorLog = log.New(io.Discard, "", 0)
	hs.StartTLS()
	defer hs.Close()

	vcf, vkf := p.issue(t, "node", false)
	_, fp, err := openadr.ClientTLS(vcf, vkf, "")
	if err != nil {
		t.Fatal(err)
	}
	c := testConfig(t.TempDir())
	c.OpenADR.VEN.VTNURL = hs.URL + "/OpenADR2/Simple/2.0b"
	c.OpenADR.VEN.Program = "grid"
	c.OpenADR.VEN.Poll = 50 * time.Millisecond
	c.OpenADR.VEN.CertFile, c.OpenADR.VEN.KeyFile, c.OpenADR.VEN.CAFile = vcf, vkf, filepath.Join(p.dir, "ca.pem")
	s, err := StartWith(ctx, c, slog.New(slog.DiscardHandler), "test", Options{BeforeRun: func(ctx context.Context, srv *Server) error {
		_, err := srv.DR.PutProgram(ctx, dr.Program{ID: "grid", Name: "Grid events", Kind: dr.KindLoadLimit, Baseline: dr.Method10of10})
		return err
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	waitFor(t, ctx, "the VTN's event taken into program grid", func() bool {
		e, err := s.DR.Event(ctx, "GRID-VTN:grid-7")
		return err == nil && e.ProgramID == "grid" && e.Signal.ThresholdW == 3000
	})
	waitFor(t, ctx, "the VEN's opt-in under its fingerprint", func() bool {
		src.mu.Lock()
		defer src.mu.Unlock()
		return len(src.opts) > 0 && src.opts[0].VENID == fp && src.opts[0].OptType == openadr.OptIn
	})
	if ids := vtn.Registered(); len(ids) != 1 || ids[0] != fp {
		t.Fatalf("registered %v, want %s", ids, fp)
	}
}
