package daemon

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// maxWebhookBody bounds a webhook payload; GitHub caps theirs at 25 MB but
// push payloads are far smaller, and mzsync reads none of it.
const maxWebhookBody = 1 << 20

// HTTPConfig holds the secrets of the daemon's HTTP surface. Each is
// optional; an endpoint whose secret is missing answers 404.
type HTTPConfig struct {
	// WebhookSecret authenticates POST /webhook: a GitHub HMAC signature
	// of the body, or a GitLab token.
	WebhookSecret []byte
	// AdminToken authenticates POST /suspend and /resume, as
	// "Authorization: Bearer <token>" and nothing else: a webhook
	// signature, valid or not, never suspends the daemon.
	AdminToken []byte
}

// Handler returns the daemon's HTTP surface:
//
//	GET  /status   the Status as JSON
//	GET  /metrics  Prometheus metrics
//	GET  /healthz  200 while passes finish; 503 when none has for several intervals
//	GET  /readyz   200 once a pass has completed, 503 before
//	POST /webhook  trigger a pass (GitHub or GitLab push hook), 202
//	POST /suspend  stop passes; POST /resume  start them again
//
// /webhook refuses a delivery whose ID (X-GitHub-Delivery,
// X-Gitlab-Event-UUID) or, for GitHub, whose signed body it has seen
// before (409), so a captured delivery cannot be replayed.
func (d *Daemon) Handler(cfg HTTPConfig) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", d.serveStatus)
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.metrics.reg, promhttp.HandlerOpts{Registry: d.metrics.reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if ok, why := d.Healthy(); !ok {
			http.Error(w, why, http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !d.Ready() {
			http.Error(w, "no pass has completed yet", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	})
	secret := append([]byte(nil), cfg.WebhookSecret...)
	seen := newReplayGuard(4096)
	mux.HandleFunc("POST /webhook", func(w http.ResponseWriter, r *http.Request) {
		if len(secret) == 0 {
			http.NotFound(w, r)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		if !VerifyWebhook(secret, r.Header, body) {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		keys := deliveryKeys(r.Header)
		if len(keys) == 0 {
			http.Error(w, "missing delivery ID (X-GitHub-Delivery or X-Gitlab-Event-UUID)", http.StatusBadRequest)
			return
		}
		if !seen.admit(keys) {
			http.Error(w, "delivery already seen: replay refused", http.StatusConflict)
			return
		}
		d.Trigger("webhook")
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "pass requested\n")
	})
	token := append([]byte(nil), cfg.AdminToken...)
	mux.Handle("POST /suspend", bearer(token, func(w http.ResponseWriter, r *http.Request) {
		d.Suspend()
		io.WriteString(w, "suspended\n")
	}))
	mux.Handle("POST /resume", bearer(token, func(w http.ResponseWriter, r *http.Request) {
		d.Resume()
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "resumed; pass requested\n")
	}))
	return mux
}

func (d *Daemon) serveStatus(w http.ResponseWriter, r *http.Request) {
	b, err := json.MarshalIndent(d.Status(), "", "  ")
	if err != nil {
		http.Error(w, "encode status", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(b, '\n'))
}

// bearer wraps next with bearer-token authentication: 404 without a
// token, 401 unless the request carries "Authorization: Bearer <token>".
func bearer(token []byte, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(token) == 0 {
			http.NotFound(w, r)
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || got == "" || !equalSecret(got, token) {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next(w, r)
	})
}

// VerifyWebhook reports whether a webhook delivery proves knowledge of
// secret, by one of:
//   - GitHub: X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>;
//   - GitLab: X-Gitlab-Token: <secret>.
//
// Comparisons are constant-time. When a GitHub signature is present it
// alone decides.
func VerifyWebhook(secret []byte, h http.Header, body []byte) bool {
	if len(secret) == 0 {
		return false
	}
	if sig := h.Get("X-Hub-Signature-256"); sig != "" {
		hexSig, ok := strings.CutPrefix(sig, "sha256=")
		if !ok {
			return false
		}
		got, err := hex.DecodeString(hexSig)
		if err != nil {
			return false
		}
		mac := hmac.New(sha256.New, secret)
		mac.Write(body)
		return hmac.Equal(got, mac.Sum(nil))
	}
	if tok := h.Get("X-Gitlab-Token"); tok != "" {
		return equalSecret(tok, secret)
	}
	return false
}

// deliveryKeys are the replay keys of an authenticated delivery: its
// delivery ID, and for GitHub its signature (the signed body), so a
// captured body replayed under a fresh ID is refused too.
func deliveryKeys(h http.Header) []string {
	var keys []string
	if id := h.Get("X-GitHub-Delivery"); id != "" {
		keys = append(keys, "github-delivery:"+id)
	}
	if id := h.Get("X-Gitlab-Event-UUID"); id != "" {
		keys = append(keys, "gitlab-event:"+id)
	}
	if len(keys) > 0 {
		if sig := h.Get("X-Hub-Signature-256"); sig != "" {
			keys = append(keys, "github-signature:"+sig)
		}
	}
	return keys
}

// replayGuard remembers the last n delivery keys.
type replayGuard struct {
	mu    sync.Mutex
	n     int
	seen  map[string]struct{}
	order []string
}

func newReplayGuard(n int) *replayGuard {
	return &replayGuard{n: n, seen: map[string]struct{}{}}
}

// admit records keys and reports whether none was seen before.
func (g *replayGuard) admit(keys []string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, k := range keys {
		if _, ok := g.seen[k]; ok {
			return false
		}
	}
	for _, k := range keys {
		g.seen[k] = struct{}{}
		g.order = append(g.order, k)
	}
	for len(g.order) > g.n {
		delete(g.seen, g.order[0])
		g.order = g.order[1:]
	}
	return true
}

// equalSecret compares digests so neither content nor length leaks
// through timing.
func equalSecret(got string, secret []byte) bool {
	a := sha256.Sum256([]byte(got))
	b := sha256.Sum256(secret)
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}
