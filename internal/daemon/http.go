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

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// maxWebhookBody bounds a webhook payload; GitHub caps theirs at 25 MB but
// push payloads are far smaller, and mzsync reads none of it.
const maxWebhookBody = 1 << 20

// Handler returns the daemon's HTTP surface:
//
//	GET  /status   the Status as JSON
//	GET  /metrics  Prometheus metrics
//	GET  /healthz  200 while passes finish; 503 when none has for several intervals
//	GET  /readyz   200 once a pass has completed, 503 before
//	POST /webhook  trigger a pass (GitHub or GitLab push hook), 202
//	POST /suspend  stop passes; POST /resume  start them again
//
// webhookSecret authenticates /webhook, /suspend and /resume. Without it
// those endpoints answer 404: they are never open.
func (d *Daemon) Handler(webhookSecret []byte) http.Handler {
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
	secret := append([]byte(nil), webhookSecret...)
	mux.Handle("POST /webhook", authenticated(secret, func(w http.ResponseWriter, r *http.Request) {
		d.Trigger("webhook")
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "pass requested\n")
	}))
	mux.Handle("POST /suspend", authenticated(secret, func(w http.ResponseWriter, r *http.Request) {
		d.Suspend()
		io.WriteString(w, "suspended\n")
	}))
	mux.Handle("POST /resume", authenticated(secret, func(w http.ResponseWriter, r *http.Request) {
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

// authenticated wraps next with webhook authentication: 404 without a
// secret, 401 unless the request proves it knows the secret.
func authenticated(secret []byte, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
		next(w, r)
	})
}

// VerifyWebhook reports whether a request proves knowledge of secret, by
// one of:
//   - GitHub: X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>;
//   - GitLab: X-Gitlab-Token: <secret>;
//   - anything else: Authorization: Bearer <secret>.
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
	if tok, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer "); ok && tok != "" {
		return equalSecret(tok, secret)
	}
	return false
}

// equalSecret compares digests so neither content nor length leaks
// through timing.
func equalSecret(got string, secret []byte) bool {
	a := sha256.Sum256([]byte(got))
	b := sha256.Sum256(secret)
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}
