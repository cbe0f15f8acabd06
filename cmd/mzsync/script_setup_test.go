package main

import (
	"path/filepath"
	"runtime"

	"github.com/rogpeppe/go-internal/testscript"
)

// setupScript gives every script the repository root as $REPO, so scripts
// can use examples/manifests.
func setupScript(e *testscript.Env) error {
	_, file, _, _ := runtime.Caller(0)
	e.Setenv("REPO", filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..")))
	return nil
}
