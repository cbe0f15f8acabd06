package deploy_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// TestReleaseTarget runs `make release` for one platform other than the
// host's (one cross build keeps make test cheap) and checks what it
// produced: the archive listed in SHA256SUMS with the right digest, holding
// LICENSE, README.md and a static, trimmed mzsync for that platform with the
// release version, commit and date linked in. It also checks that the
// default platform list is the four the project ships.
func TestReleaseTarget(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-builds mzsync")
	}
	for _, tool := range []string{"make", "tar", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	mk, err := os.ReadFile(filepath.Join(root(t), "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^RELEASE_PLATFORMS \?= (.*)$`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("Makefile: no RELEASE_PLATFORMS ?= line")
	}
	platforms := strings.Fields(string(m[1]))
	for _, want := range []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64"} {
		if !contains(platforms, want) {
			t.Errorf("Makefile: RELEASE_PLATFORMS %q lacks %s", platforms, want)
		}
	}

	goos, goarch := "linux", "arm64"
	if runtime.GOOS == goos && runtime.GOARCH == goarch {
		goos, goarch = "linux", "amd64"
	}
	const version, commit, date = "v9.8.7-test", "0123456789abcdef0123456789abcdef01234567", "2026-12-02T16:00:00Z"
	dist := t.TempDir()
	cmd := exec.Command("make", "-s", "release", "RELEASE_PLATFORMS="+goos+"/"+goarch, "DIST="+dist,
		"VERSION="+version, "COMMIT="+commit, "DATE="+date)
	cmd.Dir = root(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make release: %v\n%s", err, out)
	}

	name := "mzsync_" + version + "_" + goos + "_" + goarch
	sums, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	archive, err := os.ReadFile(filepath.Join(dist, name+".tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(archive)
	if want := hex.EncodeToString(sum[:]) + "  " + name + ".tar.gz\n"; string(sums) != want {
		t.Errorf("SHA256SUMS = %q, want %q", sums, want)
	}

	files := untar(t, archive)
	for _, f := range []string{"LICENSE", "README.md", "mzsync"} {
		if _, ok := files[name+"/"+f]; !ok {
			t.Errorf("archive lacks %s/%s (has %v)", name, f, keys(files))
		}
	}
	bin := filepath.Join(t.TempDir(), "mzsync")
	if err := os.WriteFile(bin, files[name+"/mzsync"], 0o755); err != nil {
		t.Fatal(err)
	}
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatalf("release binary: %v", err)
	}
	if bi.Path != "github.com/mzsync/mzsync/cmd/mzsync" {
		t.Errorf("release binary is %s, want github.com/mzsync/mzsync/cmd/mzsync", bi.Path)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	for k, want := range map[string]string{"GOOS": goos, "GOARCH": goarch, "CGO_ENABLED": "0", "-trimpath": "true"} {
		if settings[k] != want {
			t.Errorf("release binary: build setting %s = %q, want %q", k, settings[k], want)
		}
	}
	// -trimpath keeps -ldflags out of the build information: look for the
	// values -X linked in.
	for _, x := range []string{version, commit, date} {
		if !bytes.Contains(files[name+"/mzsync"], []byte(x)) {
			t.Errorf("release binary does not contain %s (from -ldflags -X)", x)
		}
	}
}

// untar returns the regular files of a .tar.gz by name.
func untar(t *testing.T, data []byte) map[string][]byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[strings.TrimPrefix(h.Name, "./")] = b
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
