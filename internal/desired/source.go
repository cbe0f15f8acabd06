package desired

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/mzsync/mzsync/internal/model"
)

// ErrNoPath reports that the manifest directory does not exist at a git
// revision (e.g. the base of the pull request that adds it).
var ErrNoPath = errors.New("manifest directory does not exist at this revision")

// Snapshot is a manifest tree at one revision.
type Snapshot struct {
	// FS holds the manifest files; its root is the manifest root.
	FS fs.FS
	// Revision identifies the tree: a git commit, or sha256:<hex> of the
	// manifest files' contents.
	Revision string
}

// Load loads the snapshot's desired state, recording its revision.
func (s *Snapshot) Load() (*model.Desired, error) {
	return Load(s.FS, WithRevision(s.Revision))
}

// Source yields the current manifest tree. Fetch is called on every
// reconcile pass; an unchanged tree yields the same Revision.
type Source interface {
	Fetch(ctx context.Context) (*Snapshot, error)
	// String names the source for logs and errors, without credentials.
	String() string
}

// DirSource reads manifests from a local directory. Its revision is the
// content hash of the manifest files, so an unchanged directory keeps its
// revision.
type DirSource struct {
	Dir string
}

// Fetch snapshots the directory.
func (d DirSource) Fetch(ctx context.Context) (*Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st, err := os.Stat(d.Dir)
	if err != nil {
		return nil, fmt.Errorf("manifest directory: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("manifest directory %s: not a directory", d.Dir)
	}
	fsys := os.DirFS(d.Dir)
	rev, err := ContentHash(fsys)
	if err != nil {
		return nil, fmt.Errorf("manifest directory %s: %w", d.Dir, err)
	}
	return &Snapshot{FS: fsys, Revision: rev}, nil
}

// String names the directory.
func (d DirSource) String() string { return d.Dir }
