// Package testenv owns what a test may expect of the machine it runs on,
// and what it does when that is missing. There are two kinds of need:
//
//   - Reference data kept outside the repository, in ../shared/testdata
//     beside its root (DLMS traces, Green Book vectors, the ESPI schema).
//     A user's clone does not have it: there the tests that need it skip,
//     saying what is missing. CI always has it, so under CI (the CI
//     environment variable set) a missing file fails the test.
//   - Services and tools: PostgreSQL, NATS, Chromium, and the npm protocol
//     peers in scripts/peers (Peer). scripts/test.sh
//     installs and starts them and then sets AMIGO_REQUIRE_SERVICES, so a
//     service that does not answer fails the test there and under CI; a
//     bare `go test` without them skips.
package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// RequireServicesVar is set by scripts/test.sh once it has started the
// services the tests use.
const RequireServicesVar = "AMIGO_REQUIRE_SERVICES"

// InCI reports whether the tests run under CI, where the shared reference
// data is always present.
func InCI() bool { return os.Getenv("CI") != "" }

// ServicesRequired reports whether a missing service is a failure rather
// than a skip.
func ServicesRequired() bool { return InCI() || os.Getenv(RequireServicesVar) != "" }

// Service fails or skips tb because a service or tool it needs is not
// there: what names it, err says why.
func Service(tb testing.TB, what string, err error) {
	tb.Helper()
	msg := fmt.Sprintf("%s is not available (%v); scripts/test.sh installs and starts it", what, err)
	if ServicesRequired() {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}

// PeersVar names a node_modules directory holding the npm protocol peers,
// for a checkout where scripts/setup.sh has not installed them (a second
// work tree of the same repository, say).
const PeersVar = "AMIGO_PEERS"

// Peer returns the directory of the npm package name, one of the
// independent protocol peers scripts/setup.sh installs into
// scripts/peers/node_modules, and the node binary to run it with. When
// either is missing the test skips, or fails where services are required.
func Peer(tb testing.TB, name string) (dir, node string) {
	tb.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		Service(tb, "node (Node.js)", err)
	}
	modules := os.Getenv(PeersVar)
	if modules == "" {
		root, err := repoRoot()
		if err != nil {
			Service(tb, "npm peer "+name, err)
		}
		modules = filepath.Join(root, "scripts", "peers", "node_modules")
	}
	dir, err = filepath.Abs(filepath.Join(modules, name))
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "package.json"))
	}
	if err != nil {
		Service(tb, "npm peer "+name, err)
	}
	return dir, node
}

// repoRoot is the directory holding go.mod, at or above the working
// directory.
func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("testenv: working directory: %w", err)
	}
	root := wd
	for {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			return root, nil
		}
		up := filepath.Dir(root)
		if up == root {
			return "", fmt.Errorf("testenv: no go.mod at or above %s", wd)
		}
		root = up
	}
}

// LocateShared finds rel (slash-separated, e.g. "espi/usage.xsd") under
// ../shared/testdata beside the repository root, walking up from the
// working directory to the directory holding go.mod. The path returned is
// relative to the working directory when it can be.
func LocateShared(rel string) (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("testenv: working directory: %w", err)
	}
	root := wd
	for {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			break
		}
		up := filepath.Dir(root)
		if up == root {
			return "", fmt.Errorf("testenv: no go.mod at or above %s, so no repository root to look beside", wd)
		}
		root = up
	}
	p := filepath.Join(filepath.Dir(root), "shared", "testdata", filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("testenv: %w", err)
	}
	if r, err := filepath.Rel(wd, p); err == nil {
		p = r
	}
	return p, nil
}

// Shared returns the path of rel under ../shared/testdata. When it is
// missing the test skips, saying so, or fails under CI.
func Shared(tb testing.TB, rel string) string {
	tb.Helper()
	p, err := LocateShared(rel)
	if err != nil {
		msg := fmt.Sprintf("needs ../shared/testdata/%s beside the repository root, not on this clone (CI has it)", rel)
		if !os.IsNotExist(errors.Unwrap(err)) {
			msg += fmt.Sprintf(": %v", err)
		}
		if InCI() {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return p
}
