package observed

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// CatalogCluster is the cluster Materialize serves catalog reads on. The
// catalog session sets it explicitly rather than relying on automatic
// routing, so a read never lands on (or waits for) a user cluster.
const CatalogCluster = "mz_catalog_server"

// MinVersionNum is the first Materialize version (as mz_version_num()
// reports it) with the syntax mzsync uses: CREATE SOURCE without FOR
// TABLES and CREATE TABLE ... FROM SOURCE (v26.0.0).
const MinVersionNum = 2600000

// ErrUnsupportedServer is wrapped by PrepareCatalogSession's error when
// the server is not a Materialize that can run mzsync's statements.
var ErrUnsupportedServer = errors.New("unsupported server")

// ServerInfo is what PrepareCatalogSession learns about the server.
type ServerInfo struct {
	// Version is mz_version(), e.g. "v26.17.0 (...)".
	Version string
	// VersionNum is mz_version_num(), e.g. 2601700 for v26.17.0.
	VersionNum int
}

// PrepareCatalogSession makes c a catalog session: SET cluster to
// mz_catalog_server (alone, outside any transaction, as Materialize
// requires), then reads mz_version() and checks that the server can run
// CREATE TABLE ... FROM SOURCE, saying clearly what is missing before
// anything is planned. Errors name the server.
func PrepareCatalogSession(ctx context.Context, c *pgx.Conn) (ServerInfo, error) {
	where := Where(c)
	if _, err := c.Exec(ctx, "SET cluster = "+CatalogCluster); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "42704" {
			return ServerInfo{}, fmt.Errorf("%s is not Materialize (it has no cluster setting): %w", where, ErrUnsupportedServer)
		}
		return ServerInfo{}, fmt.Errorf("set up the catalog session on %s: SET cluster = %s: %w", where, CatalogCluster, err)
	}
	var info ServerInfo
	var num int32
	if err := c.QueryRow(ctx, "SELECT mz_version(), mz_version_num()").Scan(&info.Version, &num); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "42883" {
			return info, fmt.Errorf("%s is not Materialize (it has no mz_version()): %w", where, ErrUnsupportedServer)
		}
		return info, fmt.Errorf("read mz_version() on %s: %w", where, err)
	}
	info.VersionNum = int(num)
	if err := checkVersion(info); err != nil {
		return info, fmt.Errorf("%s: %w", where, err)
	}
	// The feature flag is a system variable; a server that does not
	// let us read it (or does not know it) is judged by its version.
	var flag string
	if err := c.QueryRow(ctx, "SHOW enable_create_table_from_source", pgx.QueryExecModeSimpleProtocol).Scan(&flag); err == nil {
		if f := strings.ToLower(strings.TrimSpace(flag)); f == "off" || f == "false" {
			return info, fmt.Errorf("%s: Materialize %s has enable_create_table_from_source off, so CREATE TABLE ... FROM SOURCE is not available; "+
				"an administrator can enable it (ALTER SYSTEM SET enable_create_table_from_source = true, as mz_system): %w", where, info.Version, ErrUnsupportedServer)
		}
	}
	return info, nil
}

// checkVersion refuses a Materialize older than MinVersionNum.
func checkVersion(info ServerInfo) error {
	if info.VersionNum < MinVersionNum {
		return fmt.Errorf("server version %s does not support CREATE TABLE ... FROM SOURCE, which mzsync needs (Materialize v26.0.0 or later): %w", info.Version, ErrUnsupportedServer)
	}
	return nil
}
