package openadr

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func stringReader(s string) io.Reader { return strings.NewReader(s) }

func readAll(t *testing.T, r *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustEncode(t *testing.T, m Message) string {
	t.Helper()
	b, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
