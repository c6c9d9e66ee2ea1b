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

// Argon2Params are the argon2id costs of new password hashes, sized for a
// two-core server: 64 MiB, one pass, two lanes take about 35 ms on two
// cores (55 ms of CPU). That is the one-pass shape of RFC 9106's first
// recommended setting, with the memory a small server can spare (the RFC
// asks for 2 GiB there); more passes at less memory would be weaker
// against memory-cheap hardware for the same time. Each guess costs an
// attacker 64 MiB of memory-hard work, a sign-in stays quick, and the
// Service lets only a few hashes run at once so a burst of sign-ins cannot
// exhaust memory. Verification uses the costs stored in each hash, so
// raising these later leaves old hashes valid. Tests lower them.
var Argon2Params = struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}{MemoryKiB: 64 * 1024, Time: 1, Threads: 2}

// MinPasswordLength is the shortest password accepted, in characters,
// and MaxPasswordBytes the longest, in bytes.
const (
	MinPasswordLength = 12
	MaxPasswordBytes  = 1024
)

// ErrBadHash says a stored hash is not an argon2id PHC string.
var ErrBadHash = errors.New("not an argon2id password hash")

// CheckPassword says why a new password is refused, or nil.
func CheckPassword(pw string) error {
	if utf8.RuneCountInString(pw) < MinPasswordLength {
		return fmt.Errorf("password too short: at least %d characters", MinPasswordLength)
	}
	if len(pw) > MaxPasswordBytes {
		return fmt.Errorf("password too long: at most %d bytes", MaxPasswordBytes)
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

// Bounds on the costs of a stored hash. They keep a tampered or damaged
// hash from costing the server more than a quarter of a gigabyte or many
// seconds per attempt, and are well above any cost this package writes.
const (
	maxMemoryKiB = 256 * 1024
	maxTime      = 10
	maxThreads   = 16
)

// VerifyPassword reports whether pw matches the hash, comparing in
// constant time. A malformed hash is an error, never a match.
func VerifyPassword(hash, pw string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return false, ErrBadHash
	}
	m, t, p, ok := parseCosts(parts[3])
	if !ok {
		return false, ErrBadHash
	}
	salt, err := base64.RawStdEncoding.Strict().DecodeString(parts[4])
	if err != nil || len(salt) < 8 || len(salt) > 64 {
		return false, ErrBadHash
	}
	want, err := base64.RawStdEncoding.Strict().DecodeString(parts[5])
	if err != nil || len(want) < 16 || len(want) > 64 {
		return false, ErrBadHash
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// parseCosts reads "m=<KiB>,t=<passes>,p=<lanes>", each a plain decimal
// within bounds, in that order and nothing else.
func parseCosts(s string) (m, t uint32, p uint8, ok bool) {
	fields := strings.Split(s, ",")
	if len(fields) != 3 {
		return 0, 0, 0, false
	}
	var v [3]uint64
	for i, key := range []string{"m=", "t=", "p="} {
		num, found := strings.CutPrefix(fields[i], key)
		if !found || num == "" || len(num) > 7 || strings.Trim(num, "0123456789") != "" || (len(num) > 1 && num[0] == '0') {
			return 0, 0, 0, false
		}
		v[i], _ = strconv.ParseUint(num, 10, 32)
	}
	if v[0] < 8 || v[0] > maxMemoryKiB || v[1] < 1 || v[1] > maxTime || v[2] < 1 || v[2] > maxThreads {
		return 0, 0, 0, false
	}
	return uint32(v[0]), uint32(v[1]), uint8(v[2]), true
}

// Token prefix: amg_<id>_<secret>. The id finds the stored token, the
// secret proves it; only sha256(secret) is kept.
const tokenPrefix = "amg_"

// ErrBadToken says a string is not an amigo API token.
var ErrBadToken = errors.New("not an amigo API token")

var b64 = base64.RawURLEncoding

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
	s := b64.EncodeToString(sec)
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
	if _, err := b64.Strict().DecodeString(sec); err != nil {
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
	return b64.EncodeToString(b), nil
}

func hashOf(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}
