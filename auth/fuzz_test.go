package auth

import (
	"testing"
)

// FuzzParseToken: whatever arrives in an Authorization header parses to a
// token id and hash or to ErrBadToken, never a panic, and what parses is
// well formed.
func FuzzParseToken(f *testing.F) {
	tok, _, _, err := newToken()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok)
	f.Add("amg_")
	f.Add("amg_0123456789ab_")
	f.Fuzz(func(t *testing.T, s string) {
		id, hash, err := ParseToken(s)
		if err != nil {
			if err != ErrBadToken {
				t.Fatalf("error %v", err)
			}
			return
		}
		if len(id) != 12 || len(hash) != 32 {
			t.Fatalf("parsed %q to id %q hash %d bytes", s, id, len(hash))
		}
	})
}

// FuzzVerifyHash: a stored hash read back from a damaged database is an
// error or a mismatch, never a panic or a match.
func FuzzVerifyHash(f *testing.F) {
	f.Add("$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g", "pw")
	f.Add("$argon2id$v=19$m=1024,t=1,p=1$$", "")
	f.Fuzz(func(t *testing.T, hash, pw string) {
		ok, err := VerifyPassword(hash, pw)
		if ok && err != nil {
			t.Fatal("a match with an error")
		}
		if ok {
			// Only a hash of pw itself may match; the seeds are not.
			t.Fatalf("hash %q matched %q", hash, pw)
		}
	})
}
