package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSystemdUnit checks deploy/systemd/mzsync.service: the sandboxing
// directives are present, secrets come through LoadCredential and reach
// mzsync as files, the git cache is the StateDirectory, and
// `systemd-analyze verify` accepts the unit without a warning (an unknown
// or misspelt directive is only a warning there, so any output fails).
func TestSystemdUnit(t *testing.T) {
	path := filepath.Join(root(t), "deploy", "systemd", "mzsync.service")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	directives := map[string][]string{}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf("mzsync.service: line %q is not key=value", line)
			continue
		}
		directives[k] = append(directives[k], v)
	}
	want := map[string]string{
		"DynamicUser":             "yes",
		"NoNewPrivileges":         "yes",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"PrivateDevices":          "yes",
		"ProtectKernelTunables":   "yes",
		"ProtectKernelModules":    "yes",
		"ProtectControlGroups":    "yes",
		"RestrictNamespaces":      "yes",
		"RestrictSUIDSGID":        "yes",
		"LockPersonality":         "yes",
		"MemoryDenyWriteExecute":  "yes",
		"CapabilityBoundingSet":   "",
		"SystemCallArchitectures": "native",
		"SystemCallFilter":        "@system-service",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
		"StateDirectory":          "mzsync",
	}
	for k, v := range want {
		if !contains(directives[k], v) {
			t.Errorf("mzsync.service: no %s=%s (has %q)", k, v, directives[k])
		}
	}
	creds := map[string]bool{}
	for _, c := range directives["LoadCredential"] {
		name, _, _ := strings.Cut(c, ":")
		creds[name] = true
	}
	exec0 := strings.Join(directives["ExecStart"], " ")
	for _, flag := range []string{"git-token", "webhook-secret", "admin-token"} {
		if !creds[flag] || !strings.Contains(exec0, "--"+flag+"-file=%d/"+flag) {
			t.Errorf("mzsync.service: %s is not a LoadCredential passed as --%s-file=%%d/%s", flag, flag, flag)
		}
	}
	if !creds["pgpass"] || !contains(directives["Environment"], "PGPASSFILE=%d/pgpass") {
		t.Error("mzsync.service: the Materialize password is not a LoadCredential read through PGPASSFILE")
	}
	if !strings.Contains(exec0, "--git-cache=${STATE_DIRECTORY}") {
		t.Error("mzsync.service: the git cache is not the StateDirectory")
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed, so the unit cannot be verified here")
	}
	// verify checks that ExecStart's binary exists: point it at one that
	// does, keeping everything else as shipped.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(t.TempDir(), "mzsync.service")
	if err := os.WriteFile(unit, []byte(strings.ReplaceAll(string(data), "/usr/local/bin/mzsync", self)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", unit).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
