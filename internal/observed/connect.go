package observed

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Default timeouts. A server that accepts TCP connections but never
// answers must not hang mzsync: connecting is bounded by
// DefaultConnectTimeout (a connect_timeout in the URL wins), every catalog
// read and statement by DefaultStatementTimeout (see Observer.Timeout and
// reconcile.PgxDB.Timeout).
const (
	DefaultConnectTimeout   = 10 * time.Second
	DefaultStatementTimeout = time.Minute
)

// ConnectOptions tune Connect.
type ConnectOptions struct {
	// Timeout bounds connecting (TCP, TLS, startup and authentication)
	// when the URL sets no connect_timeout. Zero means
	// DefaultConnectTimeout.
	Timeout time.Duration
}

// Connect opens a connection for the job named by what (e.g. "read the
// Materialize catalog"). Errors name the job, the host and port and the
// user, and never contain the password, whatever the URL's form (URL
// userinfo, password= parameter, or key=value string). Connecting gives
// up after the URL's connect_timeout, or opts' Timeout, or
// DefaultConnectTimeout.
func Connect(ctx context.Context, connString, what string, opts ...ConnectOptions) (*pgx.Conn, error) {
	var o ConnectOptions
	for _, x := range opts {
		o = x
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultConnectTimeout
	}
	secrets := passwordsIn(connString)
	cfg, err := pgx.ParseConfig(connString)
	if err != nil {
		// pgx's own message quotes the string, redacted on a best-effort
		// basis that a malformed URL can defeat, and its cause may quote
		// pieces of it: say neither, keep both for errors.As.
		return nil, &redactedError{
			msg:     fmt.Sprintf("%s: parse connection URL%s: invalid (not shown: it may hold a password)", what, hostHint(connString)),
			cause:   err,
			secrets: secrets,
			hide:    true,
		}
	}
	if cfg.Password != "" {
		secrets = append(secrets, encodings(cfg.Password)...)
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "mzsync"
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = o.Timeout
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		msg := fmt.Sprintf("%s: connect to %s as %s", what, hostList(cfg), cfg.User)
		if ctx.Err() == nil && isTimeout(err) {
			msg += fmt.Sprintf(": no answer within %s", cfg.ConnectTimeout)
		}
		return nil, &redactedError{
			msg:     msg,
			cause:   err,
			secrets: secrets,
		}
	}
	return conn, nil
}

// isTimeout reports whether err is a deadline expiring, as pgx reports it
// (context.DeadlineExceeded or a net timeout).
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Where names the server a connection talks to, host:port, for errors.
// It is "" for anything but a *pgx.Conn.
func Where(q any) string {
	c, ok := q.(interface{ Config() *pgx.ConnConfig })
	if !ok || c.Config() == nil {
		return ""
	}
	return hostList(c.Config())
}

// Redact returns connString with any password replaced by "xxxxx", for
// logs and messages that must say which server they mean.
func Redact(connString string) string {
	return scrub(connString, passwordsIn(connString))
}

func hostList(cfg *pgx.ConnConfig) string {
	hosts := []string{net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))}
	for _, f := range cfg.Fallbacks {
		h := net.JoinHostPort(f.Host, strconv.Itoa(int(f.Port)))
		if h != hosts[len(hosts)-1] {
			hosts = append(hosts, h)
		}
	}
	return strings.Join(hosts, ",")
}

// passwordsIn finds passwords in a connection string without relying on
// it being valid: URL userinfo, a password query parameter, or a
// password=... keyword.
func passwordsIn(s string) []string {
	var out []string
	if u, err := url.Parse(s); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			out = append(out, encodings(p)...)
		}
		if p := u.Query().Get("password"); p != "" {
			out = append(out, encodings(p)...)
		}
	}
	// Userinfo that net/url cannot parse: take what lies between the
	// scheme's "//user:" and the last "@" before the host.
	if _, rest, ok := strings.Cut(s, "://"); ok {
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if _, p, ok := strings.Cut(rest[:at], ":"); ok && p != "" {
				out = append(out, p)
			}
		}
	}
	for _, f := range strings.Fields(s) {
		if k, v, ok := strings.Cut(f, "="); ok && strings.EqualFold(k, "password") && v != "" {
			out = append(out, strings.Trim(v, "'"))
		}
	}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == '?' || r == '&' }) {
		if k, v, ok := strings.Cut(f, "="); ok && strings.EqualFold(k, "password") && v != "" {
			out = append(out, v)
			if d, err := url.QueryUnescape(v); err == nil {
				out = append(out, d)
			}
		}
	}
	return out
}

func encodings(p string) []string {
	return []string{p, url.QueryEscape(p), url.PathEscape(p), url.UserPassword("", p).String()[1:]}
}

func scrub(s string, secrets []string) string {
	for _, p := range secrets {
		if p != "" {
			s = strings.ReplaceAll(s, p, "xxxxx")
		}
	}
	return s
}

// redactedError keeps its cause for errors.Is and errors.As but never
// prints a secret: Error scrubs every known form of the password.
type redactedError struct {
	msg     string
	cause   error
	secrets []string
	hide    bool // print msg alone
}

func (e *redactedError) Error() string {
	if e.hide {
		return scrub(e.msg, e.secrets)
	}
	return scrub(e.msg+": "+e.cause.Error(), e.secrets)
}

// hostHint guesses the host part of a URL that did not parse, for the
// error message: what follows the last '@' up to '/' or '?'.
func hostHint(s string) string {
	_, rest, ok := strings.Cut(s, "://")
	if !ok {
		return ""
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		rest = rest[at+1:]
	}
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		rest = rest[:i]
	}
	if rest == "" {
		return ""
	}
	return " for " + rest
}

func (e *redactedError) Unwrap() error { return e.cause }
