// Package testenv lets tests that need something from outside the module
// (a Debian tool, the shared test corpus beside the checkout, PostgreSQL)
// skip where it is absent, except in CI: with HOTLINE_CI=1 (set by
// .ci/run) a missing requirement is a failure, so that CI cannot pass by
// skipping what it must cover.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// CI reports whether the tests run under .ci/run.
func CI() bool { return os.Getenv("HOTLINE_CI") == "1" }

// Need skips t when ok is false, or fails it under CI.
func Need(t testing.TB, ok bool, why string) {
	t.Helper()
	if ok {
		return
	}
	if CI() {
		t.Fatalf("HOTLINE_CI=1 and %s", why)
	}
	t.Skip(why)
}

// Command returns the path of a program the test needs (sipp, swaks, gs…),
// skipping or failing as Need does when it is not installed.
func Command(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	Need(t, err == nil, name+" is not installed (.ci/run installs it)")
	return p
}

// ModuleRoot is the directory holding go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("testenv: cannot locate the module")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Shared returns the path of ../shared/<rel> beside the checkout (SPEC,
// test corpora, Asterisk captures), skipping or failing as Need does when
// the checkout has no ../shared (a user's clone).
func Shared(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(ModuleRoot(t), "..", "shared", rel)
	_, err := os.Stat(p)
	Need(t, err == nil, "../shared/"+rel+" is not beside the checkout")
	return p
}
