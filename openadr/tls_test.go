package openadr

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
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestFingerprint: SHA-256("abc") is ba7816bf…96177a9c b410ff61 f20015ad
// (FIPS 180-2's vector); its last 10 bytes, upper case, colon separated.
func TestFingerprint(t *testing.T) {
	if got, want := Fingerprint([]byte("abc")), "7A:9C:B4:10:FF:61:F2:00:15:AD"; got != want {
		t.Fatalf("Fingerprint(abc) = %s, want %s", got, want)
	}
	if !SameFingerprint("7a:9c:b4:10:ff:61:f2:00:15:ad", "7A:9C:B4:10:FF:61:F2:00:15:AD") || SameFingerprint("", "") {
		t.Fatal("SameFingerprint")
	}
	if got := CanonicalVENID("7a:9c:b4:10:ff:61:f2:00:15:ad"); got != "7A:9C:B4:10:FF:61:F2:00:15:AD" {
		t.Fatalf("CanonicalVENID %s", got)
	}
	if got := CanonicalVENID("ven-home-1"); got != "ven-home-1" {
		t.Fatalf("CanonicalVENID %s", got)
	}
}

// testPKI is a CA and the certificates it issued, written as PEM files.
type testPKI struct {
	dir    string
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	serial int64
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	p := &testPKI{dir: t.TempDir()}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test OpenADR CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if p.ca, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	p.caKey, p.serial = key, 1
	writePEM(t, filepath.Join(p.dir, "ca.pem"), "CERTIFICATE", der)
	return p
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// issue writes name.pem and name.key, a server certificate for 127.0.0.1
// or a client one, and returns their paths and the certificate's DER.
func (p *testPKI) issue(t *testing.T, name string, server bool) (certFile, keyFile string, der []byte) {
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
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err = x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(p.dir, name+".pem"), filepath.Join(p.dir, name+".key")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "PRIVATE KEY", kb)
	return certFile, keyFile, der
}

func (p *testPKI) caFile() string { return filepath.Join(p.dir, "ca.pem") }

// watchedSource records which VENs the VTN asked events for.
type watchedSource struct {
	memSource
	wmu   sync.Mutex
	asked []string
}

func (s *watchedSource) Events(ctx context.Context, venID string) ([]Event, error) {
	s.wmu.Lock()
	s.asked = append(s.asked, venID)
	s.wmu.Unlock()
	return s.memSource.Events(ctx, venID)
}

func (s *watchedSource) askedFor() []string {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return append([]string(nil), s.asked...)
}

// tlsVTN serves vtn over TLS on loopback with client certificates
// required, and returns its base URL and a VEN factory.
func tlsVTN(t *testing.T, p *testPKI, vtn *VTN) (url string, venFor func(name string) (*VEN, string)) {
	t.Helper()
	cf, kf, _ := p.issue(t, "vtn", true)
	cfg, err := ServerTLS(cf, kf, p.caFile())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(vtn)
	srv.TLS = cfg
	// Handshakes refused on purpose are not worth a log line here.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	url = srv.URL + strings.TrimRight(BasePath, "/")
	return url, func(name string) (*VEN, string) {
		cf, kf, _ := p.issue(t, name, false)
		c, fp, err := ClientTLS(cf, kf, p.caFile())
		if err != nil {
			t.Fatal(err)
		}
		return &VEN{URL: url, Name: name, HTTP: &http.Client{Transport: &http.Transport{TLSClientConfig: c}}}, fp
	}
}

// TestTLSVENRegistersAndHearsEvents: a VEN with a certificate of the CA
// registers without naming an id, is given its fingerprint, and hears
// its event; a VEN bound by name to its certificate registers by name.
func TestTLSVENRegistersAndHearsEvents(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := newTestPKI(t)
	src := &watchedSource{memSource: memSource{events: []Event{testEvent(time.Now().Add(24 * time.Hour).Truncate(time.Second))}}}
	vtn := &VTN{ID: "AMIGO-VTN", Source: src, Fingerprints: map[string]string{}}
	_, venFor := tlsVTN(t, p, vtn)

	ven, fp := venFor("ven-a")
	if err := ven.Register(ctx); err != nil {
		t.Fatal(err)
	}
	if ven.VENID != fp || ven.VTNID() != "AMIGO-VTN" {
		t.Fatalf("registered as %q (fingerprint %s) with %q", ven.VENID, fp, ven.VTNID())
	}
	got, err := ven.Poll(ctx)
	if err != nil || got != "oadrDistributeEvent" || len(ven.Events()) != 1 {
		t.Fatalf("poll %s %v, events %v", got, err, ven.Events())
	}
	if _, err := ven.OptOut(ctx, "ev-1", 0, "away"); err != nil {
		t.Fatal(err)
	}
	// The poll's oadrCreatedEvent opted in; then the opt-out.
	if opts := src.recorded(); len(opts) != 2 || opts[0].VENID != fp || opts[1].VENID != fp || opts[1].OptType != OptOut {
		t.Fatalf("opts %+v", opts)
	}

	// A fingerprint written in lower case is the same VEN.
	ven.VENID = strings.ToLower(fp)
	if _, err := ven.Poll(ctx); err != nil {
		t.Fatalf("poll as lower case id: %v", err)
	}

	named, nfp := venFor("ven-b")
	vtn.mu.Lock()
	vtn.Fingerprints["ven-home-1"] = strings.ToLower(nfp)
	vtn.mu.Unlock()
	named.VENID = "ven-home-1"
	if err := named.Register(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := named.Poll(ctx); err != nil || got != "oadrDistributeEvent" {
		t.Fatalf("named poll %s %v", got, err)
	}
	if ids := vtn.Registered(); len(ids) != 2 || !slices.Contains(ids, fp) || !slices.Contains(ids, "ven-home-1") {
		t.Fatalf("registered %v", ids)
	}
}

// TestTLSNoCertificateRefused: a VEN without a certificate does not get
// past the TLS handshake, and a plain request reaching the VTN without
// one (no TLS in front of it) is 451.
func TestTLSNoCertificateRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := newTestPKI(t)
	src := &watchedSource{memSource: memSource{events: []Event{testEvent(time.Now().Add(time.Hour).Truncate(time.Second))}}}
	vtn := &VTN{ID: "AMIGO-VTN", Source: src}
	url, _ := tlsVTN(t, p, vtn)

	roots := x509.NewCertPool()
	roots.AddCert(p.ca)
	bare := &VEN{URL: url, Name: "bare", VENID: "ven-x",
		HTTP: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}}
	err := bare.Register(ctx)
	var ce *CodeError
	if err == nil || errors.As(err, &ce) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("register without a certificate: %v", err)
	}

	plain := httptest.NewServer(vtn)
	defer plain.Close()
	direct := &VEN{URL: plain.URL + strings.TrimRight(BasePath, "/"), Name: "direct", VENID: "ven-x"}
	err = direct.Register(ctx)
	if !errors.As(err, &ce) || ce.Code != CodeNotAllowed {
		t.Fatalf("register over plain HTTP: %v", err)
	}
	if _, err := direct.Poll(ctx); !errors.As(err, &ce) || ce.Code != CodeNotAllowed {
		t.Fatalf("poll over plain HTTP: %v", err)
	}
	if len(vtn.Registered()) != 0 || len(src.askedFor()) != 0 || len(src.recorded()) != 0 {
		t.Fatalf("registered %v, source asked for %v, opts %v", vtn.Registered(), src.askedFor(), src.recorded())
	}
}

// TestTLSOtherVENsIDRefused: a VEN with a valid certificate that claims
// another VEN's id is refused with 452, whatever it sends, and the event
// source hears nothing of it.
func TestTLSOtherVENsIDRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := newTestPKI(t)
	src := &watchedSource{memSource: memSource{events: []Event{testEvent(time.Now().Add(time.Hour).Truncate(time.Second))}}}
	vtn := &VTN{ID: "AMIGO-VTN", Source: src, Fingerprints: map[string]string{}}
	_, venFor := tlsVTN(t, p, vtn)

	victim, vfp := venFor("victim")
	vtn.Fingerprints["ven-home-1"] = vfp
	mallory, mfp := venFor("mallory")
	if err := victim.Register(ctx); err != nil {
		t.Fatal(err)
	}
	if victim.VENID != "ven-home-1" {
		t.Fatalf("victim registered as %q", victim.VENID)
	}
	refused := func(what string, err error) {
		t.Helper()
		var ce *CodeError
		if !errors.As(err, &ce) || ce.Code != CodeInvalidID || !strings.Contains(ce.Description, mfp) {
			t.Fatalf("%s: %v", what, err)
		}
	}
	for _, id := range []string{"ven-home-1", vfp, strings.ToLower(vfp)} {
		mallory.VENID = id
		refused("register as "+id, mallory.Register(ctx))
	}
	// Registered as itself, it still may not speak for the victim.
	mallory.VENID = ""
	if err := mallory.Register(ctx); err != nil {
		t.Fatal(err)
	}
	if mallory.VENID != mfp {
		t.Fatalf("mallory registered as %q", mallory.VENID)
	}
	src.wmu.Lock()
	src.asked = nil
	src.wmu.Unlock()
	mallory.VENID = "ven-home-1"
	_, err := mallory.Poll(ctx)
	refused("poll", err)
	refused("request events", mallory.RequestEvents(ctx))
	_, err = mallory.OptOut(ctx, "ev-1", 0, "")
	refused("opt out", err)
	refused("cancel opt", mallory.CancelOpt(ctx, "o-1"))
	refused("cancel registration", mallory.CancelRegistration(ctx))
	if asked := src.askedFor(); len(asked) != 0 {
		t.Fatalf("the source was asked for %v", asked)
	}
	if opts := src.recorded(); len(opts) != 0 {
		t.Fatalf("opts %+v", opts)
	}
	if ids := vtn.Registered(); len(ids) != 2 || !slices.Contains(ids, "ven-home-1") {
		t.Fatalf("registered %v", ids)
	}
}
