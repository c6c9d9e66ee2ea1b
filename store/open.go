package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Opener opens the store a URL names. It gets the URL as Open got it, but
// for its scheme, lower-cased (a bare path has none). Its errors name the
// engine and the place, never a password.
type Opener func(ctx context.Context, url string) (Store, error)

var (
	openersMu sync.RWMutex
	openers   = map[string]Opener{}
)

// pathScheme is the scheme a URL without one is opened with: a bare path
// is the embedded database's file.
const pathScheme = "sqlite"

// Register makes an engine available to Open under a URL scheme. Engines
// call it from init, so the engines a binary links in are the ones it can
// open; the registry lives here because the engines import this package.
// An empty scheme, a nil opener or a scheme registered twice panics: each
// is a wrong build, not a runtime condition.
func Register(scheme string, open Opener) {
	scheme = strings.ToLower(scheme)
	if !validScheme(scheme) || open == nil {
		panic(fmt.Sprintf("store: Register(%q) needs a scheme and an opener", scheme))
	}
	openersMu.Lock()
	defer openersMu.Unlock()
	if _, dup := openers[scheme]; dup {
		panic(fmt.Sprintf("store: scheme %q registered twice", scheme))
	}
	openers[scheme] = open
}

// Schemes lists the registered URL schemes, sorted.
func Schemes() []string {
	openersMu.RLock()
	defer openersMu.RUnlock()
	ss := make([]string, 0, len(openers))
	for s := range openers {
		ss = append(ss, s)
	}
	slices.Sort(ss)
	return ss
}

// Open opens (creating and migrating as needed) the store url names, with
// the engine registered for its scheme: with store/engines linked in,
// postgres:// and postgresql:// are PostgreSQL, and sqlite:PATH,
// sqlite://PATH, file:PATH and a bare PATH are a SQLite file. It fails
// within ctx when the database does not answer.
func Open(ctx context.Context, url string) (Store, error) {
	if url == "" {
		return nil, errors.New("store: no url: want a file path or a postgres:// url")
	}
	scheme, ok := schemeOf(url)
	if !ok {
		scheme = pathScheme
	}
	openersMu.RLock()
	open := openers[scheme]
	openersMu.RUnlock()
	if open == nil {
		// Only the scheme is named: the rest of the URL may hold a
		// password, and the scheme is what is wrong.
		known := Schemes()
		if len(known) == 0 {
			return nil, fmt.Errorf("store: no engine for %q: this binary links in no store engine (import store/engines)", scheme)
		}
		if !ok {
			return nil, fmt.Errorf("store: a bare path is a %s file, and this binary has no %s engine (known schemes: %s)", pathScheme, pathScheme, strings.Join(known, ", "))
		}
		return nil, fmt.Errorf("store: unknown url scheme %q (known: %s)", scheme, strings.Join(known, ", "))
	}
	if ok {
		// Schemes are case-insensitive (RFC 3986), drivers not always.
		url = scheme + url[len(scheme):]
	}
	return open(ctx, url)
}

// schemeOf returns the lower-cased scheme of u, and false when u has
// none. One letter before the colon is a Windows drive ("C:\amigo.db"),
// not a scheme.
func schemeOf(u string) (string, bool) {
	i := strings.IndexByte(u, ':')
	if i < 2 || !validScheme(u[:i]) {
		return "", false
	}
	return strings.ToLower(u[:i]), true
}

// validScheme reports whether s is a URL scheme (RFC 3986: a letter, then
// letters, digits, "+", "-" or ".").
func validScheme(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}
