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
		{name: "github signature accepted", secret: secret, hdr: map[string]string{"X-Hub-Signature-256": githubSig(secret, payload), "X-GitHub-Event": "push", "X-GitHub-Delivery": "d-1"},
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
		{name: "gitlab token accepted", secret: secret, hdr: map[string]string{"X-Gitlab-Token": secret, "X-Gitlab-Event": "Push Hook", "X-Gitlab-Event-UUID": "u-1"},
			body: payload, wantCode: http.StatusAccepted, wantTrigger: true},
		{name: "gitlab wrong token rejected", secret: secret, hdr: map[string]string{"X-Gitlab-Token": secret + "x"},
			body: payload, wantCode: http.StatusUnauthorized},
		{name: "bearer token is not a webhook credential", secret: secret, hdr: map[string]string{"Authorization": "Bearer " + secret, "X-GitHub-Delivery": "d-2"},
			body: "", wantCode: http.StatusUnauthorized},
		{name: "signed delivery without a delivery ID refused", secret: secret, hdr: map[string]string{"X-Hub-Signature-256": githubSig(secret, payload)},
			body: payload, wantCode: http.StatusBadRequest},
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
			code, _ := do(t, d.Handler(HTTPConfig{WebhookSecret: []byte(tc.secret)}), method, "/webhook", tc.hdr, tc.body)
			if code != tc.wantCode {
				t.Errorf("code = %d, want %d", code, tc.wantCode)
			}
			if got := len(d.trigger) == 1; got != tc.wantTrigger {
				t.Errorf("triggered = %v, want %v", got, tc.wantTrigger)
			}
		})
	}
}

// TestSuspendResumeHTTP proves suspend and resume need the admin bearer
// token, take effect, and refuse the webhook's credentials: a captured
// GitHub delivery (body and valid signature) replayed to /suspend does
// not suspend the daemon.
func TestSuspendResumeHTTP(t *testing.T) {
	const admin = "adm1n-token"
	d, _, _ := newTestDaemon(t)
	h := d.Handler(HTTPConfig{WebhookSecret: []byte(secret), AdminToken: []byte(admin)})
	auth := map[string]string{"Authorization": "Bearer " + admin}
	const payload = `{"ref":"refs/heads/main"}`
	captured := map[string]string{"X-Hub-Signature-256": githubSig(secret, payload), "X-GitHub-Delivery": "d-9", "X-GitHub-Event": "push"}
	for name, hdr := range map[string]map[string]string{
		"no credentials":             nil,
		"replayed github delivery":   captured,
		"gitlab token of the hook":   {"X-Gitlab-Token": secret},
		"bearer of the hook secret":  {"Authorization": "Bearer " + secret},
		"admin token without bearer": {"Authorization": admin},
	} {
		if code, _ := do(t, h, http.MethodPost, "/suspend", hdr, payload); code != http.StatusUnauthorized || d.Status().Suspended {
			t.Fatalf("%s: suspend = %d (suspended=%v), want 401", name, code, d.Status().Suspended)
		}
	}
	if code, _ := do(t, h, http.MethodPost, "/suspend", auth, ""); code != http.StatusOK || !d.Status().Suspended {
		t.Fatalf("suspend = %d, suspended=%v", code, d.Status().Suspended)
	}
	if code, _ := do(t, h, http.MethodPost, "/resume", auth, ""); code != http.StatusAccepted || d.Status().Suspended {
		t.Fatalf("resume = %d, suspended=%v", code, d.Status().Suspended)
	}
	if code, _ := do(t, d.Handler(HTTPConfig{WebhookSecret: []byte(secret)}), http.MethodPost, "/suspend", auth, ""); code != http.StatusNotFound {
		t.Fatalf("suspend without a configured admin token = %d, want 404", code)
	}
}

// TestWebhookReplayRefused proves a delivery seen before is refused: the
// same delivery ID, and (GitHub) the same signed body under a new ID.
func TestWebhookReplayRefused(t *testing.T) {
	d, _, _ := newTestDaemon(t)
	h := d.Handler(HTTPConfig{WebhookSecret: []byte(secret)})
	const payload = `{"ref":"refs/heads/main","after":"abc"}`
	gh := func(id, body string) map[string]string {
		return map[string]string{"X-Hub-Signature-256": githubSig(secret, body), "X-GitHub-Delivery": id}
	}
	if code, _ := do(t, h, http.MethodPost, "/webhook", gh("d-1", payload), payload); code != http.StatusAccepted {
		t.Fatalf("first delivery = %d", code)
	}
	<-d.trigger
	if code, _ := do(t, h, http.MethodPost, "/webhook", gh("d-1", payload), payload); code != http.StatusConflict {
		t.Fatalf("replayed delivery = %d, want 409", code)
	}
	if code, _ := do(t, h, http.MethodPost, "/webhook", gh("d-2", payload), payload); code != http.StatusConflict {
		t.Fatalf("replayed body under a new delivery ID = %d, want 409", code)
	}
	if len(d.trigger) != 0 {
		t.Fatal("a replay triggered a pass")
	}
	other := payload + " "
	if code, _ := do(t, h, http.MethodPost, "/webhook", gh("d-3", other), other); code != http.StatusAccepted {
		t.Fatalf("a new delivery = %d", code)
	}
	gl := map[string]string{"X-Gitlab-Token": secret, "X-Gitlab-Event-UUID": "u-7"}
	if code, _ := do(t, h, http.MethodPost, "/webhook", gl, payload); code != http.StatusAccepted {
		t.Fatalf("gitlab delivery = %d", code)
	}
	if code, _ := do(t, h, http.MethodPost, "/webhook", gl, payload); code != http.StatusConflict {
		t.Fatalf("replayed gitlab delivery = %d, want 409", code)
	}
}

// TestHealth proves /healthz always answers and /readyz only after a
// pass.
func TestHealth(t *testing.T) {
	d, _, _ := newTestDaemon(t)
	h := d.Handler(HTTPConfig{})
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
	code, body := do(t, d.Handler(HTTPConfig{}), http.MethodGet, "/status", nil, "")
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
	_, body := do(t, d.Handler(HTTPConfig{}), http.MethodGet, "/metrics", nil, "")
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
