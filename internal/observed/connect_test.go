package observed

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return strconv.Itoa(port)
}

func TestConnectErrorNamesHostAndJobButNeverThePassword(t *testing.T) {
	const pw = "s3cr3t-P@ss word"
	port := closedPort(t)
	tests := []struct {
		name, url, wantHost string
	}{
		{"userinfo", "postgres://alice:s3cr3t-P%40ss%20word@127.0.0.1:" + port + "/db?sslmode=disable&connect_timeout=5", "127.0.0.1:" + port},
		{"query parameter", "postgres://alice@127.0.0.1:" + port + "/db?sslmode=disable&password=s3cr3t-P%40ss+word", "127.0.0.1:" + port},
		{"key value", "host=127.0.0.1 port=" + port + " user=alice password='" + pw + "' sslmode=disable", "127.0.0.1:" + port},
		{"unparsable url", "postgres://alice:" + pw + "@127.0.0.1:notaport/db", "127.0.0.1:notaport"},
		{"unparsable raw password", "postgres://alice:s3cr3t-P@ss@127.0.0.1:" + port + "/db?sslmode=bogus", "127.0.0.1:" + port},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			conn, err := Connect(ctx, tt.url, "read the Materialize catalog")
			if err == nil {
				conn.Close(ctx)
				t.Fatal("connected to a closed port")
			}
			msg := err.Error()
			t.Log(msg)
			for _, secret := range []string{pw, "s3cr3t", "P%40ss", "P@ss", "ss word", "ss%20word", "ss+word"} {
				if strings.Contains(msg, secret) {
					t.Errorf("error leaks %q: %s", secret, msg)
				}
			}
			if !strings.HasPrefix(msg, "read the Materialize catalog: ") {
				t.Errorf("error does not say what was being done: %s", msg)
			}
			if !strings.Contains(msg, tt.wantHost) {
				t.Errorf("error does not name host %s: %s", tt.wantHost, msg)
			}
		})
	}
}

func TestConnectErrorKeepsItsCause(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := Connect(ctx, "postgres://a:pw@127.0.0.1:"+closedPort(t)+"/db?sslmode=disable", "inspect upstream of source pg")
	var connectErr *pgconn.ConnectError
	if !errors.As(err, &connectErr) {
		t.Fatalf("errors.As(*pgconn.ConnectError) failed on %v", err)
	}
}

func TestRedact(t *testing.T) {
	got := Redact("postgres://alice:hunter2@db.example:6875/materialize")
	if strings.Contains(got, "hunter2") || !strings.Contains(got, "db.example:6875") {
		t.Fatalf("Redact = %s", got)
	}
}
