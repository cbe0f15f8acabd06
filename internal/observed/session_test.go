package observed

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mzsync/mzsync/internal/mzemu/mzemutest"
	"github.com/mzsync/mzsync/internal/pgtest"
)

// TestCatalogSessionRunsOnCatalogServer: the catalog session is put on
// mz_catalog_server explicitly and learns the server's version.
func TestCatalogSessionRunsOnCatalogServer(t *testing.T) {
	env := mzemutest.New(t)
	conn := connectMZ(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	info, err := PrepareCatalogSession(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(info.Version, "v26.") || info.VersionNum < MinVersionNum {
		t.Errorf("server info %+v", info)
	}
	var cluster string
	if err := conn.QueryRow(ctx, "SHOW cluster").Scan(&cluster); err != nil {
		t.Fatal(err)
	}
	if cluster != CatalogCluster {
		t.Fatalf("catalog session runs on cluster %q, want %q", cluster, CatalogCluster)
	}
	if _, err := Read(ctx, conn); err != nil {
		t.Fatalf("catalog read on %s: %v", CatalogCluster, err)
	}
}

// TestCatalogSessionRefusesWhatIsNotMaterialize: a plain PostgreSQL is
// named as not Materialize, and an old Materialize is refused because it
// lacks CREATE TABLE ... FROM SOURCE, before anything is planned.
func TestCatalogSessionRefusesWhatIsNotMaterialize(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := Connect(ctx, pgtest.NewDatabase(t), "read the Materialize catalog")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	_, err = PrepareCatalogSession(ctx, conn)
	if !errors.Is(err, ErrUnsupportedServer) || !strings.Contains(err.Error(), "is not Materialize") {
		t.Fatalf("a plain PostgreSQL: %v, want ErrUnsupportedServer saying it is not Materialize", err)
	}
	if !strings.Contains(err.Error(), Where(conn)) {
		t.Errorf("error does not name the server: %v", err)
	}

	err = checkVersion(ServerInfo{Version: "v0.130.0 (abc)", VersionNum: 13000})
	if !errors.Is(err, ErrUnsupportedServer) || !strings.Contains(err.Error(), "v0.130.0") || !strings.Contains(err.Error(), "CREATE TABLE ... FROM SOURCE") {
		t.Errorf("old version: %v", err)
	}
	if err := checkVersion(ServerInfo{Version: "v26.0.0", VersionNum: 2600000}); err != nil {
		t.Errorf("v26.0.0 refused: %v", err)
	}
}
