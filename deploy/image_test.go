package deploy_test

import (
	"archive/tar"
	"bytes"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// TestImageTarget runs `make image` (offline: an empty base, no Docker
// daemon) and opens the tarball it wrote: the entrypoint is /mzsync, the
// user is 65532, not root, and the one layer holds /mzsync, which is the
// mzsync binary with the release version linked in (and, on a linux host
// of the same architecture, answers `mzsync version --format json` with
// it).
func TestImageTarget(t *testing.T) {
	if testing.Short() {
		t.Skip("builds mzsync and the image")
	}
	for _, tool := range []string{"make", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	const version, commit, date = "v9.8.7-image", "89abcdef0123456789abcdef0123456789abcdef", "2026-12-02T16:30:00Z"
	dist := t.TempDir()
	out := filepath.Join(dist, "image.tar")
	cmd := exec.Command("make", "-s", "image", "DIST="+dist, "IMAGE_TAR="+out, "IMAGE=example.com/mzsync:"+version,
		"IMAGE_ARCH="+runtime.GOARCH, "VERSION="+version, "COMMIT="+commit, "DATE="+date)
	cmd.Dir = root(t)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make image: %v\n%s", err, b)
	}

	img, err := tarball.ImageFromPath(out, nil)
	if err != nil {
		t.Fatalf("open %s: %v", out, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got := cf.Config.Entrypoint; len(got) != 1 || got[0] != "/mzsync" {
		t.Errorf("entrypoint = %q, want [/mzsync]", got)
	}
	if cf.Config.User != "65532:65532" {
		t.Errorf("user = %q, want 65532:65532", cf.Config.User)
	}
	if uid, err := strconv.Atoi(strings.SplitN(cf.Config.User, ":", 2)[0]); err != nil || uid == 0 {
		t.Errorf("user %q is not a numeric non-root uid", cf.Config.User)
	}
	if cf.OS != "linux" || cf.Architecture != runtime.GOARCH {
		t.Errorf("platform = %s/%s, want linux/%s", cf.OS, cf.Architecture, runtime.GOARCH)
	}
	if got := cf.Config.Labels["org.opencontainers.image.version"]; got != version {
		t.Errorf("version label = %q, want %q", got, version)
	}
	if got := cf.Created.UTC().Format("2006-01-02T15:04:05Z"); got != date {
		t.Errorf("created = %s, want %s", got, date)
	}

	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("%d layers, want 1 on an empty base", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var bin []byte
	var passwd string
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		switch strings.TrimPrefix(h.Name, "/") {
		case "mzsync":
			if h.Mode&0o111 == 0 || h.Uid != 0 {
				t.Errorf("/mzsync: mode %o uid %d, want executable and owned by root (not writable by the user)", h.Mode, h.Uid)
			}
			bin = data
		case "etc/passwd":
			passwd = string(data)
		}
	}
	if bin == nil {
		t.Fatal("the layer has no /mzsync")
	}
	if !regexp.MustCompile(`(?m)^nonroot:x:65532:65532:`).MatchString(passwd) {
		t.Errorf("/etc/passwd does not name user 65532:\n%s", passwd)
	}
	bi, err := buildinfo.Read(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("/mzsync is not a Go binary: %v", err)
	}
	if bi.Path != "github.com/mzsync/mzsync/cmd/mzsync" {
		t.Errorf("/mzsync is %s, want github.com/mzsync/mzsync/cmd/mzsync", bi.Path)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if settings["CGO_ENABLED"] != "0" || settings["GOOS"] != "linux" {
		t.Errorf("/mzsync: CGO_ENABLED=%s GOOS=%s, want a static linux binary", settings["CGO_ENABLED"], settings["GOOS"])
	}

	if runtime.GOOS != "linux" {
		return
	}
	exe := filepath.Join(t.TempDir(), "mzsync")
	if err := os.WriteFile(exe, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := exec.Command(exe, "version", "--format", "json").Output()
	if err != nil {
		t.Fatalf("/mzsync version: %v", err)
	}
	var v struct {
		FormatVersion int    `json:"format_version"`
		Version       string `json:"version"`
		Commit        string `json:"commit"`
		BuildDate     string `json:"build_date"`
	}
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatalf("/mzsync version --format json: %v\n%s", err, got)
	}
	if v.FormatVersion != 1 || v.Version != version || v.Commit != commit || v.BuildDate != date {
		t.Errorf("/mzsync version = %+v, want version %s commit %s build date %s", v, version, commit, date)
	}
}

// TestDockerfile checks the Dockerfile's shape, since building it needs a
// daemon and the network: a static build stage, a distroless non-root final
// stage, user 65532 and the entrypoint /mzsync, as `make image` builds.
func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var froms []string
	var final []string // instructions after the last FROM
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if f := strings.Fields(line); strings.EqualFold(f[0], "FROM") {
			froms = append(froms, f[1])
			final = nil
			continue
		}
		final = append(final, line)
	}
	if len(froms) < 2 {
		t.Fatalf("Dockerfile: %d stages, want a multi-stage build", len(froms))
	}
	if base := froms[len(froms)-1]; !strings.HasPrefix(base, "gcr.io/distroless/static") || !strings.Contains(base, "nonroot") {
		t.Errorf("Dockerfile: final base %s, want gcr.io/distroless/static:nonroot", base)
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-X main.releaseVersion="} {
		if !strings.Contains(string(data), want) {
			t.Errorf("Dockerfile: the build does not use %s", want)
		}
	}
	for _, want := range []string{"USER 65532:65532", `ENTRYPOINT ["/mzsync"]`} {
		if !contains(final, want) {
			t.Errorf("Dockerfile: the final stage lacks %s (has %q)", want, final)
		}
	}
}
