package desired

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing/fstest"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"

	"github.com/mzsync/mzsync/spec"
)

// ErrFetch marks a failure to reach or read the git remote.
var ErrFetch = errors.New("git fetch failed")

// GitAuth holds credentials for a git remote. At most one of Token and
// SSHKey is set. Credentials never appear in errors or logs.
type GitAuth struct {
	// Username for token auth; "x-access-token" when empty (GitHub; GitLab
	// accepts any name with a token).
	Username string
	// Token is an HTTPS access token, sent as the basic-auth password.
	Token string
	// SSHKey is a PEM-encoded private key for ssh:// and scp-like remotes,
	// with its optional passphrase.
	SSHKey           []byte
	SSHKeyPassphrase string
}

func (a GitAuth) method() (transport.AuthMethod, error) {
	switch {
	case a.Token != "" && len(a.SSHKey) > 0:
		return nil, errors.New("git auth: give a token or an SSH key, not both")
	case a.Token != "":
		user := a.Username
		if user == "" {
			user = "x-access-token"
		}
		return &githttp.BasicAuth{Username: user, Password: a.Token}, nil
	case len(a.SSHKey) > 0:
		k, err := gitssh.NewPublicKeys("git", a.SSHKey, a.SSHKeyPassphrase)
		if err != nil {
			return nil, errors.New("git auth: cannot read the SSH private key")
		}
		return k, nil
	}
	return nil, nil
}

// GitSource follows a ref of a git remote. The first Fetch clones the
// remote into a bare repository under CacheDir; later ones fetch
// incrementally, so a poll without new commits downloads no objects.
// Branches are fetched with force, so a force-pushed branch is followed.
//
// A GitSource is safe for concurrent use.
type GitSource struct {
	// URL of the remote (https://, ssh://, git@host:path, file:// or a path).
	URL string
	// Ref is a branch, a tag or a commit hash; empty means the remote's
	// default branch.
	Ref string
	// Path is the manifest root inside the repository; empty means the
	// repository root.
	Path string
	// CacheDir holds the clones, one per URL; empty means
	// $XDG_CACHE_HOME/mzsync/git (os.UserCacheDir).
	CacheDir string
	Auth     GitAuth
	// Log receives debug messages; nil discards them.
	Log *slog.Logger

	mu   sync.Mutex
	last *Snapshot
}

// String names the remote and ref without credentials.
func (g *GitSource) String() string {
	s := redactURL(g.URL)
	if g.Ref != "" {
		s += "@" + g.Ref
	}
	if g.Path != "" {
		s += ":" + g.Path
	}
	return s
}

const remoteName = "origin"

// Fetch brings the cache up to date and returns the manifest tree at Ref.
// When the remote cannot be reached, the error wraps ErrFetch and names the
// remote, and the snapshot of the last good fetch (from this GitSource or
// from the cache on disk) is returned with it, nil if there is none:
// callers may keep serving it but must not take it for news.
func (g *GitSource) Fetch(ctx context.Context) (*Snapshot, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	log := g.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	auth, err := g.Auth.method()
	if err != nil {
		return nil, err
	}
	repo, err := g.open()
	if err != nil {
		return nil, err
	}
	fetchErr := g.fetch(ctx, repo, auth)
	if fetchErr != nil {
		log.Debug("git fetch failed", "remote", redactURL(g.URL), "err", fetchErr)
	}
	snap, err := g.snapshot(ctx, repo, auth, fetchErr == nil)
	if fetchErr != nil {
		if err != nil || snap == nil {
			snap = g.last
		}
		return snap, fetchErr
	}
	if err != nil {
		return nil, err
	}
	g.last = snap
	return snap, nil
}

// open opens the cached bare repository of URL, creating it if needed.
func (g *GitSource) open() (*git.Repository, error) {
	base := g.CacheDir
	if base == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("git cache: %w", err)
		}
		base = filepath.Join(c, "mzsync", "git")
	}
	sum := sha256.Sum256([]byte(g.URL))
	dir := filepath.Join(base, hex.EncodeToString(sum[:8]))
	repo, err := git.PlainOpen(dir)
	if err == nil {
		return repo, g.scrubConfig(repo, dir)
	}
	if !errors.Is(err, git.ErrRepositoryNotExists) {
		return nil, fmt.Errorf("git cache %s: %w", dir, err)
	}
	if err := os.MkdirAll(base, 0o700); err != nil {
		return nil, fmt.Errorf("git cache: %w", err)
	}
	repo, err = git.PlainInit(dir, true)
	if err != nil {
		return nil, fmt.Errorf("git cache %s: %w", dir, err)
	}
	// The URL on disk never carries credentials; fetches pass the real
	// one (FetchOptions.RemoteURL) in memory.
	_, err = repo.CreateRemote(&config.RemoteConfig{
		Name: remoteName,
		URLs: []string{redactURL(g.URL)},
		Fetch: []config.RefSpec{
			"+refs/heads/*:refs/remotes/origin/*",
			"+refs/tags/*:refs/tags/*",
		},
	})
	if err != nil {
		return nil, fmt.Errorf("git cache %s: %w", dir, err)
	}
	return repo, nil
}

// scrubConfig removes credentials a cache written by an older mzsync kept
// in its remote URL.
func (g *GitSource) scrubConfig(repo *git.Repository, dir string) error {
	cfg, err := repo.Config()
	if err != nil {
		return fmt.Errorf("git cache %s: %w", dir, err)
	}
	r := cfg.Remotes[remoteName]
	if r == nil || len(r.URLs) == 0 || r.URLs[0] == redactURL(r.URLs[0]) {
		return nil
	}
	r.URLs = []string{redactURL(r.URLs[0])}
	if err := repo.SetConfig(cfg); err != nil {
		return fmt.Errorf("git cache %s: remove credentials from the remote URL: %w", dir, err)
	}
	return nil
}

func (g *GitSource) fetch(ctx context.Context, repo *git.Repository, auth transport.AuthMethod) error {
	err := repo.FetchContext(ctx, &git.FetchOptions{
		RemoteName: remoteName,
		RemoteURL:  g.URL,
		Auth:       auth,
		Force:      true,
		Prune:      true,
		Tags:       git.NoTags, // the refspec fetches tags, with force
	})
	if err == nil || errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil
	}
	return g.fetchError(err)
}

// fetchError names the remote and scrubs credentials from the cause.
func (g *GitSource) fetchError(err error) error {
	msg := err.Error()
	for _, secret := range []string{g.Auth.Token, g.Auth.SSHKeyPassphrase, urlPassword(g.URL)} {
		if secret != "" {
			msg = strings.ReplaceAll(msg, secret, "REDACTED")
		}
	}
	msg = userinfoRE.ReplaceAllString(msg, "$1")
	return fmt.Errorf("%w: %s: %s", ErrFetch, redactURL(g.URL), msg)
}

var userinfoRE = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]*@`)

func urlPassword(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return ""
	}
	p, _ := u.User.Password()
	return p
}

// redactURL drops the userinfo of a URL.
func redactURL(raw string) string {
	return userinfoRE.ReplaceAllString(raw, "$1")
}

// snapshot resolves Ref in the cache and builds its manifest tree. online
// says whether the remote answered, so the default branch may be asked for.
func (g *GitSource) snapshot(ctx context.Context, repo *git.Repository, auth transport.AuthMethod, online bool) (*Snapshot, error) {
	ref := g.Ref
	if ref == "" {
		if !online {
			return nil, errors.New("git: default branch unknown while the remote is unreachable")
		}
		b, err := defaultBranch(ctx, repo, g.URL, auth)
		if err != nil {
			return nil, g.fetchError(err)
		}
		ref = b
	}
	hash, err := resolveRef(repo, ref)
	if err != nil {
		return nil, fmt.Errorf("git %s: %w", g.String(), err)
	}
	if g.last != nil && g.last.Revision == hash.String() {
		return g.last, nil
	}
	fsys, err := commitFS(repo, hash, g.Path)
	if err != nil {
		return nil, fmt.Errorf("git %s: %w", g.String(), err)
	}
	return &Snapshot{FS: fsys, Revision: hash.String()}, nil
}

func defaultBranch(ctx context.Context, repo *git.Repository, url string, auth transport.AuthMethod) (string, error) {
	// An in-memory remote with the real URL: nothing is written to disk.
	remote := git.NewRemote(repo.Storer, &config.RemoteConfig{Name: remoteName, URLs: []string{url}})
	refs, err := remote.ListContext(ctx, &git.ListOptions{Auth: auth})
	if err != nil {
		return "", err
	}
	for _, r := range refs {
		if r.Name() == plumbing.HEAD && r.Type() == plumbing.SymbolicReference {
			return r.Target().Short(), nil
		}
	}
	return "", errors.New("the remote has no default branch; set a ref")
}

var hashRE = regexp.MustCompile(`^[0-9a-f]{4,40}$`)

// resolveRef finds ref among the fetched branches, then tags, then commits.
func resolveRef(repo *git.Repository, ref string) (plumbing.Hash, error) {
	name := strings.TrimPrefix(ref, "refs/heads/")
	candidates := []plumbing.ReferenceName{
		plumbing.NewRemoteReferenceName(remoteName, name),
		plumbing.NewTagReferenceName(strings.TrimPrefix(ref, "refs/tags/")),
	}
	for _, c := range candidates {
		r, err := repo.Reference(c, true)
		if err != nil {
			continue
		}
		return peel(repo, r.Hash())
	}
	if hashRE.MatchString(ref) {
		h, err := repo.ResolveRevision(plumbing.Revision(ref))
		if err == nil {
			return peel(repo, *h)
		}
	}
	return plumbing.ZeroHash, fmt.Errorf("ref %q is not a branch, tag or commit of the remote", ref)
}

// peel follows annotated tags to their commit.
func peel(repo *git.Repository, h plumbing.Hash) (plumbing.Hash, error) {
	for range 10 {
		tag, err := repo.TagObject(h)
		if err != nil {
			return h, nil
		}
		h = tag.Target
	}
	return h, errors.New("tag chain too long")
}

// commitFS returns the manifest files under sub in the tree of a commit, in
// memory. Only .yaml and .yml files are read, each at most spec.MaxFileSize
// bytes (plus one, so Load reports the file as too large).
func commitFS(repo *git.Repository, hash plumbing.Hash, sub string) (fs.FS, error) {
	commit, err := repo.CommitObject(hash)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", hash, err)
	}
	tree, err := commit.Tree()
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", hash, err)
	}
	sub = strings.Trim(path.Clean("/"+filepath.ToSlash(sub)), "/")
	if sub != "" {
		tree, err = tree.Tree(sub)
		if errors.Is(err, object.ErrDirectoryNotFound) {
			return nil, fmt.Errorf("path %q at commit %s: %w", sub, hash.String()[:12], ErrNoPath)
		}
		if err != nil {
			return nil, fmt.Errorf("path %q at commit %s: %w", sub, hash.String()[:12], err)
		}
	}
	out := fstest.MapFS{}
	err = tree.Files().ForEach(func(f *object.File) error {
		if ext := path.Ext(f.Name); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		if !f.Mode.IsFile() {
			return nil
		}
		r, err := f.Reader()
		if err != nil {
			return fmt.Errorf("read %s: %w", f.Name, err)
		}
		defer r.Close()
		data, err := io.ReadAll(io.LimitReader(r, spec.MaxFileSize+1))
		if err != nil {
			return fmt.Errorf("read %s: %w", f.Name, err)
		}
		out[f.Name] = &fstest.MapFile{Data: data, Mode: 0o444}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// IsAncestor reports whether commit older is an ancestor of (or equal to)
// commit newer in the cache. known is false when either commit is not in
// the cache: the answer is then unknown.
func (g *GitSource) IsAncestor(older, newer string) (yes, known bool, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	repo, err := g.open()
	if err != nil {
		return false, false, err
	}
	if older == newer {
		return true, true, nil
	}
	a, errA := repo.CommitObject(plumbing.NewHash(older))
	b, errB := repo.CommitObject(plumbing.NewHash(newer))
	if errA != nil || errB != nil || !hashRE.MatchString(older) || !hashRE.MatchString(newer) {
		return false, false, nil
	}
	yes, err = a.IsAncestor(b)
	if err != nil {
		return false, false, fmt.Errorf("git %s: is %s older than %s: %w", g.String(), older, newer, err)
	}
	return yes, true, nil
}
