package daemon

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mzsync/mzsync/internal/drift"
	"github.com/mzsync/mzsync/internal/golden"
	"github.com/mzsync/mzsync/internal/model"
	"github.com/mzsync/mzsync/internal/reconcile"
)

const secret = "s3cret-webhook"

func githubSig(key, body string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func do(t *testing.T, h http.Handler, method, path string, hdr map[string]string, body string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}

// TestWebhook proves the webhook accepts only requests that prove the
// secret (GitHub HMAC, GitLab token, bearer), triggers a pass when it
// does, and is absent without a secret.
func TestWebhook(t *testing.T) {
	const payload = `{"ref":"refs/heads/main"}`
	cases := []struct {
		name        string
		secret      string
		method      string
		hdr         map[string]string
		body        string
		wantCode    int
		wantTrigger bool
	}{
		{name: "github signature accepted", secret: secret, hdr: map[string]string{"X-Hub-Signature-256": githubSig(secret, payload), "X-GitHub-Event": "push"},
			body: payload, wantCode: http.StatusAccepted, wantTrigger: true},
		{name: "github signature of another body rejected", secret: secret, hdr: map[string]string{"X-Hub-Signature-256": githubSig(secret, payload)},
			body: payload + " ", wantCode: http.StatusUnauthorized},
		{name: "github signature with another key rejected", secret: secret, hdr: map[string]string{"X-Hub-Signature-256": githubSig("other", payload)},
			body: payload, wantCode: http.StatusUnauthorized},
		{name: "github signature without sha256= rejected", secret: secret, hdr: map[string]string{"X-Hub-Signature-256": strings.TrimPrefix(githubSig(secret, payload), "sha256=")},
			body: payload, wantCode: http.StatusUnauthorized},
		{name: "github signature not hex rejected", secret: secret, hdr: map[string]string{"X-Hub-Signature-256": "sha256=zz"},
			body: payload, wantCode: http.StatusUnauthorized},
		{name: "bad github signature is not rescued by a gitlab token", secret: secret,
			hdr:  map[string]string{"X-Hub-Signature-256": "sha256=00", "X-Gitlab-Token": secret},
			body: payload, wantCode: http.StatusUnauthorized},
		{name: "gitlab token accepted", secret: secret, hdr: map[string]string{"X-Gitlab-Token": secret, "X-Gitlab-Event": "Push Hook"},
			body: payload, wantCode: http.StatusAccepted, wantTrigger: true},
		{name: "gitlab wrong token rejected", secret: secret, hdr: map[string]string{"X-Gitlab-Token": secret + "x"},
			body: payload, wantCode: http.StatusUnauthorized},
		{name: "bearer token accepted", secret: secret, hdr: map[string]string{"Authorization": "Bearer " + secret},
			body: "", wantCode: http.StatusAccepted, wantTrigger: true},
		{name: "no credentials rejected", secret: secret, body: payload, wantCode: http.StatusUnauthorized},
		{name: "payload too large rejected", secret: secret, hdr: map[string]string{"X-Gitlab-Token": secret},
			body: strings.Repeat("x", maxWebhookBody+1), wantCode: http.StatusRequestEntityTooLarge},
		{name: "GET not allowed", secret: secret, method: http.MethodGet, hdr: map[string]string{"X-Gitlab-Token": secret},
			wantCode: http.StatusMethodNotAllowed},
		{name: "disabled without a secret even with a valid-looking token", secret: "", hdr: map[string]string{"X-Gitlab-Token": ""},
			body: payload, wantCode: http.StatusNotFound},
		{name: "disabled without a secret for an empty-key signature", secret: "", hdr: map[string]string{"X-Hub-Signature-256": githubSig("", payload)},
			body: payload, wantCode: http.StatusNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, _, _ := newTestDaemon(t)
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			code, _ := do(t, d.Handler([]byte(tc.secret)), method, "/webhook", tc.hdr, tc.body)
			if code != tc.wantCode {
				t.Errorf("code = %d, want %d", code, tc.wantCode)
			}
			if got := len(d.trigger) == 1; got != tc.wantTrigger {
				t.Errorf("triggered = %v, want %v", got, tc.wantTrigger)
			}
		})
	}
}

// TestSuspendResumeHTTP proves suspend and resume need the secret and
// take effect.
func TestSuspendResumeHTTP(t *testing.T) {
	d, _, _ := newTestDaemon(t)
	h := d.Handler([]byte(secret))
	auth := map[string]string{"Authorization": "Bearer " + secret}
	if code, _ := do(t, h, http.MethodPost, "/suspend", nil, ""); code != http.StatusUnauthorized {
		t.Fatalf("unauthenticated suspend = %d, want 401", code)
	}
	if code, _ := do(t, h, http.MethodPost, "/suspend", auth, ""); code != http.StatusOK || !d.Status().Suspended {
		t.Fatalf("suspend = %d, suspended=%v", code, d.Status().Suspended)
	}
	if code, _ := do(t, h, http.MethodPost, "/resume", auth, ""); code != http.StatusAccepted || d.Status().Suspended {
		t.Fatalf("resume = %d, suspended=%v", code, d.Status().Suspended)
	}
	if code, _ := do(t, d.Handler(nil), http.MethodPost, "/suspend", auth, ""); code != http.StatusNotFound {
		t.Fatalf("suspend without a configured secret = %d, want 404", code)
	}
}

// TestHealth proves /healthz always answers and /readyz only after a
// pass.
func TestHealth(t *testing.T) {
	d, _, _ := newTestDaemon(t)
	h := d.Handler(nil)
	if code, _ := do(t, h, http.MethodGet, "/healthz", nil, ""); code != http.StatusOK {
		t.Fatalf("/healthz = %d", code)
	}
	if code, _ := do(t, h, http.MethodGet, "/readyz", nil, ""); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz before a pass = %d, want 503", code)
	}
	d.Reconcile(context.Background())
	if code, _ := do(t, h, http.MethodGet, "/readyz", nil, ""); code != http.StatusOK {
		t.Fatalf("/readyz after a pass = %d, want 200", code)
	}
}

// samplePasses runs a not-ready pass then a converged one with a catalog
// status and a drift report.
func samplePasses(t *testing.T) *Daemon {
	t.Helper()
	d, _, p := newTestDaemon(t)
	p.set(Outcome{Apply: &reconcile.ApplyResult{
		Executed: []reconcile.Change{{Op: reconcile.OpCreate}, {Op: reconcile.OpCreate}, {Op: reconcile.OpComment}},
		NotReady: notReadyV2,
	}}, nil)
	d.Reconcile(context.Background())
	p.set(Outcome{
		Apply: &reconcile.ApplyResult{Executed: []reconcile.Change{{Op: reconcile.OpSwap}}},
		Status: &reconcile.StatusReport{Fingerprint: "sha256:f", Revision: "r1", Schemas: []reconcile.SchemaStatus{{
			Name: "app", Declared: true, Alias: "owned", Active: "v2", DesiredActive: "v2",
			Retained: []string{"v1"}, Staged: []string{},
			Versions: []reconcile.VersionStatus{
				{Version: "v1", Schema: "app_v1", Role: reconcile.RoleRetained, Readiness: reconcile.VersionReadiness{Ready: true, ReadyObjects: 2, Total: 2}},
				{Version: "v2", Schema: "app", Role: reconcile.RoleActive, Readiness: reconcile.VersionReadiness{Ready: false, ReadyObjects: 2, Total: 3}},
			},
			Drift: []reconcile.Finding{}, Unowned: []string{},
		}}},
		Drift: &drift.Report{Tables: []drift.Table{
			{Version: model.VersionID{Schema: "app", Version: "v2"}, Table: "t", Source: "pg", Severity: drift.Behind, NewColumns: []string{"c"}},
		}},
	}, nil)
	d.Reconcile(context.Background())
	return d
}

// TestStatusJSON pins the /status document (fake clock, so it is
// deterministic) in testdata/status.json.
func TestStatusJSON(t *testing.T) {
	d := samplePasses(t)
	code, body := do(t, d.Handler(nil), http.MethodGet, "/status", nil, "")
	if code != http.StatusOK {
		t.Fatalf("/status = %d", code)
	}
	var parsed Status
	if err := json.Unmarshal([]byte(body), &parsed); err != nil {
		t.Fatalf("status is not JSON: %v", err)
	}
	if parsed.LastAppliedRevision != "r1" || parsed.Catalog == nil || parsed.Catalog.Schemas[0].Active != "v2" || len(parsed.History) != 2 {
		t.Fatalf("status does not report the applied revision, active version and history: %s", body)
	}
	golden.Check(t, "status.json", []byte(body))
}

// TestMetrics proves /metrics exposes every daemon metric with the values
// of the passes run.
func TestMetrics(t *testing.T) {
	d := samplePasses(t)
	_, body := do(t, d.Handler(nil), http.MethodGet, "/metrics", nil, "")
	for _, want := range []string{
		`mzsync_reconcile_passes_total{result="not_ready"} 1`,
		`mzsync_reconcile_passes_total{result="succeeded"} 1`,
		`mzsync_reconcile_passes_total{result="locked"} 0`,
		`mzsync_reconcile_duration_seconds_count 2`,
		`mzsync_changes_applied_total{op="create"} 2`,
		`mzsync_changes_applied_total{op="comment"} 1`,
		`mzsync_changes_applied_total{op="swap"} 1`,
		`mzsync_last_applied_timestamp_seconds 1.767323`,
		`mzsync_drift_tables{severity="behind"} 1`,
		`mzsync_drift_tables{severity="breaking"} 0`,
		`mzsync_versions_not_ready 1`,
		`mzsync_apply_lease_held 0`,
		`mzsync_suspended 0`,
		`mzsync_condition{status="True",type="Ready"} 1`,
		`mzsync_condition{status="False",type="Stalled"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", body)
	}
}
