package desired

import (
	"context"
	"fmt"
	"path/filepath"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// WorkTree is the revision name ReadRevision reads as the files on disk.
const WorkTree = ""

// ReadRevision returns the manifest tree of dir, a directory inside a git
// work tree, as of rev: anything git rev-parse understands that go-git
// resolves (HEAD, HEAD~1, main, origin/main, v1.2, a hash). rev WorkTree
// ("") reads the files on disk, uncommitted changes included, with a
// content-hash revision. This serves offline comparisons such as
// mzsync diff --base REV.
func ReadRevision(dir, rev string) (*Snapshot, error) {
	if rev == WorkTree {
		return DirSource{Dir: dir}.Fetch(context.Background())
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("read revision %s of %s: %w", rev, dir, err)
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return nil, fmt.Errorf("read revision %s of %s: %w", rev, dir, err)
	}
	repo, err := git.PlainOpenWithOptions(abs, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, fmt.Errorf("read revision %s of %s: not in a git work tree: %w", rev, dir, err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		return nil, fmt.Errorf("read revision %s of %s: %w", rev, dir, err)
	}
	root, err := filepath.EvalSymlinks(wt.Filesystem.Root())
	if err != nil {
		return nil, fmt.Errorf("read revision %s of %s: %w", rev, dir, err)
	}
	sub, err := filepath.Rel(root, abs)
	if err != nil {
		return nil, fmt.Errorf("read revision %s of %s: %w", rev, dir, err)
	}
	if sub == "." {
		sub = ""
	}
	h, err := repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return nil, fmt.Errorf("read revision %s of %s: %w", rev, dir, err)
	}
	hash, err := peel(repo, *h)
	if err != nil {
		return nil, fmt.Errorf("read revision %s of %s: %w", rev, dir, err)
	}
	fsys, err := commitFS(repo, hash, filepath.ToSlash(sub))
	if err != nil {
		return nil, fmt.Errorf("read revision %s of %s: %w", rev, dir, err)
	}
	return &Snapshot{FS: fsys, Revision: hash.String()}, nil
}
