// Package deploy_test checks the packaging recipes: the release and image
// Make targets, the Kubernetes manifests and the systemd unit.
package deploy_test

import (
	"path/filepath"
	"runtime"
	"testing"
)

// root is the repository root.
func root(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller information")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), ".."))
}
