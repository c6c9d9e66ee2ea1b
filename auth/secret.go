package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the argon2id costs of new password hashes. 64 MiB, one
// pass, two lanes take some 60 ms on one core of a small server: slow for
// a guesser, bearable for a sign-in, and a few sign-ins at once fit in
// memory. Verification uses the costs stored in each hash, so raising
// these later leaves old hashes valid.
var Argon2Params = struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}{MemoryKiB: 64 * 1024, Time: 1, Threads: 2}

// MinPasswordLength is the shortest password accepted, in characters.
const MinPasswordLength = 12

// ErrBadHash says a stored hash is not an argon2id PHC string.
var ErrBadHash = errors.New("not an argon2id password hash")

// CheckPassword says why a new password is refused, or nil.
func CheckPassword(pw string) error {
	if utf8.RuneCountInString(pw) < MinPasswordLength {
		return fmt.Errorf("password too short: at least %d characters", MinPasswordLength)
	}
	if len(pw) > 1024 {
		return errors.New("password too long: at most 1024 bytes")
	}
	return nil
}

// HashPassword returns an argon2id hash of pw in PHC string form:
// $argon2id$v=19$m=65536,t=1,p=2$salt$hash.
func HashPassword(pw string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	p := Argon2Params
	sum := argon2.IDKey([]byte(pw), salt, p.Time, p.MemoryKiB, p.Threads, 32)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(sum)), nil
}

// VerifyPassword reports whether pw matches the hash, comparing in
// constant time. A malformed hash is an error, never a match.
func VerifyPassword(hash, pw string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return false, ErrBadHash
	}
	var m, t uint32
	var p uint8
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || n != 3 {
		return false, ErrBadHash
	}
	// Bounds keep a tampered hash from costing the server a gigabyte or
	// an hour per attempt.
	if m < 8 || m > 1<<20 || t < 1 || t > 16 || p < 1 || p > 16 {
		return false, ErrBadHash
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return false, ErrBadHash
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) < 16 || len(want) > 64 {
		return false, ErrBadHash
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// Token prefix: amg_<id>_<secret>. The id finds the stored token, the
// secret proves it; only sha256(secret) is kept.
const tokenPrefix = "amg_"

// ErrBadToken says a string is not an amigo API token.
var ErrBadToken = errors.New("not an amigo API token")

var b32 = base64.RawURLEncoding

// newToken makes a token and returns it with its id and secret hash.
func newToken() (token, id string, hash []byte, err error) {
	idb := make([]byte, 6)
	sec := make([]byte, 32)
	if _, err = rand.Read(idb); err != nil {
		return
	}
	if _, err = rand.Read(sec); err != nil {
		return
	}
	// Hex ids: base64url may hold '_', the separator.
	id = fmt.Sprintf("%x", idb)
	s := b32.EncodeToString(sec)
	h := sha256.Sum256([]byte(s))
	return tokenPrefix + id + "_" + s, id, h[:], nil
}

// ParseToken splits a token into its id and the hash of its secret.
func ParseToken(tok string) (id string, hash []byte, err error) {
	rest, ok := strings.CutPrefix(tok, tokenPrefix)
	if !ok {
		return "", nil, ErrBadToken
	}
	id, sec, ok := strings.Cut(rest, "_")
	if !ok || len(id) != 12 || strings.Trim(id, "0123456789abcdef") != "" || len(sec) != 43 {
		return "", nil, ErrBadToken
	}
	if _, err := b32.DecodeString(sec); err != nil {
		return "", nil, ErrBadToken
	}
	h := sha256.Sum256([]byte(sec))
	return id, h[:], nil
}

// randomString is n random bytes, base64url.
func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return b32.EncodeToString(b), nil
}

func hashOf(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}
