package desired

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mzsync/mzsync/internal/model"
)

var ignoreRevision = cmpopts.IgnoreFields(model.Desired{}, "Revision")

// TestDirAndGitGiveIdenticalStates loads examples/manifests from a
// directory, from a git remote through GitSource, and from a work-tree
// revision; the states must be identical but for the revision.
func TestDirAndGitGiveIdenticalStates(t *testing.T) {
	files := readTree(t, "../../examples/manifests")
	r := newTestRepo(t)
	sub := map[string]string{}
	for k, v := range files {
		sub["deploy/"+k] = v
	}
	sub["README.md"] = "not a manifest"
	head := r.commit(sub)

	fromDir, err := Load(os.DirFS("../../examples/manifests"))
	if err != nil {
		t.Fatal(err)
	}
	g := &GitSource{URL: r.dir, Ref: "main", Path: "deploy", CacheDir: t.TempDir()}
	snap, err := g.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	fromGit, err := snap.Load()
	if err != nil {
		t.Fatal(err)
	}
	if fromGit.Revision != head.String() {
		t.Errorf("git revision = %s, want commit %s", fromGit.Revision, head)
	}
	if diff := cmp.Diff(fromDir, fromGit, ignoreRevision); diff != "" {
		t.Errorf("dir and git states differ (-dir +git):\n%s", diff)
	}
	rs, err := ReadRevision(filepath.Join(r.dir, "deploy"), "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	fromRev, err := rs.Load()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fromDir, fromRev, ignoreRevision); diff != "" {
		t.Errorf("dir and work-tree revision states differ (-dir +rev):\n%s", diff)
	}
	if fromRev.Revision != head.String() {
		t.Errorf("ReadRevision revision = %s, want %s", fromRev.Revision, head)
	}
}

// packFiles lists the object files of a cache, to tell whether a fetch
// downloaded anything.
func packFiles(t *testing.T, cache string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(cache, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(p, string(filepath.Separator)+"objects"+string(filepath.Separator)) {
			out = append(out, p)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func activeOf(t *testing.T, s *Snapshot) string {
	t.Helper()
	d, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	return d.Schemas[0].Active
}

// TestGitSourceLifecycle follows a branch through a poll without news, a
// new commit, a force-push, tags and commits as refs, and an unreachable
// remote.
func TestGitSourceLifecycle(t *testing.T) {
	ctx := context.Background()
	files := readTree(t, "../../examples/manifests-v1")
	r := newTestRepo(t)
	c1 := r.commit(files)
	cache := t.TempDir()
	g := &GitSource{URL: r.dir, Ref: "main", CacheDir: cache}

	s1, err := g.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s1.Revision != c1.String() || activeOf(t, s1) != "v1" {
		t.Fatalf("first fetch: revision %s active %s", s1.Revision, activeOf(t, s1))
	}
	before := packFiles(t, cache)
	again, err := g.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again != s1 {
		t.Error("a poll without new commits built a new snapshot")
	}
	if diff := cmp.Diff(before, packFiles(t, cache)); diff != "" {
		t.Errorf("a poll without new commits changed the object store:\n%s", diff)
	}

	// A new commit is followed.
	v2 := readTree(t, "../../examples/manifests")
	c2 := r.commit(v2)
	s2, err := g.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Revision != c2.String() || activeOf(t, s2) != "v2" {
		t.Fatalf("after a commit: revision %s active %s", s2.Revision, activeOf(t, s2))
	}

	// A force-push back to c1 plus a different commit is followed.
	r.setBranch(c1)
	wt, _ := r.repo.Worktree()
	if err := wt.Reset(&git.ResetOptions{Commit: c1, Mode: git.HardReset}); err != nil {
		t.Fatal(err)
	}
	schema := strings.Replace(files["app/schema.yaml"], "retain: 1", "retain: 0", 1)
	c3 := r.commit(map[string]string{"app/schema.yaml": schema})
	s3, err := g.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s3.Revision != c3.String() {
		t.Fatalf("after a force-push: revision %s, want %s", s3.Revision, c3)
	}

	// Tags and commit hashes resolve.
	if _, err := r.repo.CreateTag("release-1", c2, nil); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"release-1", c2.String(), c2.String()[:10]} {
		gs := &GitSource{URL: r.dir, Ref: ref, CacheDir: cache}
		s, err := gs.Fetch(ctx)
		if err != nil {
			t.Fatalf("ref %s: %v", ref, err)
		}
		if s.Revision != c2.String() {
			t.Errorf("ref %s resolved to %s, want %s", ref, s.Revision, c2)
		}
	}
	if _, err := (&GitSource{URL: r.dir, Ref: "no-such-branch", CacheDir: cache}).Fetch(ctx); err == nil || !strings.Contains(err.Error(), "no-such-branch") {
		t.Errorf("unknown ref: err = %v, want one naming the ref", err)
	}

	// The remote goes away: an error naming it, and the last good snapshot.
	gone := r.dir + ".gone"
	if err := os.Rename(r.dir, gone); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Rename(gone, r.dir) })
	s4, err := g.Fetch(ctx)
	if !errors.Is(err, ErrFetch) || !strings.Contains(err.Error(), r.dir) {
		t.Fatalf("unreachable remote: err = %v, want ErrFetch naming %s", err, r.dir)
	}
	if s4 == nil || s4.Revision != c3.String() {
		t.Fatalf("unreachable remote: snapshot %+v, want the last good one (%s)", s4, c3)
	}
	// A new process over the same cache still gets the cached checkout.
	s5, err := (&GitSource{URL: r.dir, Ref: "main", CacheDir: cache}).Fetch(ctx)
	if !errors.Is(err, ErrFetch) || s5 == nil || s5.Revision != c3.String() {
		t.Fatalf("unreachable remote, fresh source: snapshot %+v err %v", s5, err)
	}
}

// TestGitFetchErrorHidesCredentials proves that neither a token nor a
// password in the URL reaches the error text.
func TestGitFetchErrorHidesCredentials(t *testing.T) {
	g := &GitSource{
		URL:      "http://alice:hunter2@127.0.0.1:1/manifests.git",
		Ref:      "main",
		CacheDir: t.TempDir(),
		Auth:     GitAuth{Token: "tok-s3cret"},
	}
	_, err := g.Fetch(context.Background())
	if !errors.Is(err, ErrFetch) {
		t.Fatalf("err = %v, want ErrFetch", err)
	}
	msg := err.Error()
	for _, secret := range []string{"hunter2", "tok-s3cret", "alice"} {
		if strings.Contains(msg, secret) {
			t.Errorf("error %q leaks %q", msg, secret)
		}
	}
	if !strings.Contains(msg, "127.0.0.1:1/manifests.git") {
		t.Errorf("error %q does not name the remote", msg)
	}
	if strings.Contains(g.String(), "hunter2") {
		t.Errorf("String() = %q leaks the password", g.String())
	}
	assertNoSecretOnDisk(t, g.CacheDir, "hunter2", "tok-s3cret", "alice")
}

// assertNoSecretOnDisk fails when any file under dir contains a secret.
func assertNoSecretOnDisk(t *testing.T, dir string, secrets ...string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, s := range secrets {
			if strings.Contains(string(b), s) {
				t.Errorf("%s holds %q", p, s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("the cache is empty: the test proves nothing")
	}
}

// TestGitCacheNeverStoresCredentials: a cache written by an older mzsync
// with the password in its remote URL is scrubbed on the next fetch, and
// fetching with credentials in the URL still works (they travel in
// memory only).
func TestGitCacheNeverStoresCredentials(t *testing.T) {
	r := newTestRepo(t)
	c1 := r.commit(readTree(t, "../../examples/manifests-v1"))
	// A file:// URL with user info: go-git ignores it for local
	// transport, which is enough to see where the URL is written.
	url := "file://alice:hunter2@" + r.dir
	cache := t.TempDir()
	sum := sha256.Sum256([]byte(url))
	dir := filepath.Join(cache, hex.EncodeToString(sum[:8]))
	old, err := git.PlainInit(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{url},
		Fetch: []config.RefSpec{"+refs/heads/*:refs/remotes/origin/*"}}); err != nil {
		t.Fatal(err)
	}
	g := &GitSource{URL: url, Ref: "main", CacheDir: cache}
	s, err := g.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Revision != c1.String() {
		t.Fatalf("revision %s, want %s", s.Revision, c1)
	}
	assertNoSecretOnDisk(t, cache, "hunter2")
}

// TestReadRevision reads older commits and the uncommitted work tree.
func TestReadRevision(t *testing.T) {
	r := newTestRepo(t)
	c1 := r.commit(readTree(t, "../../examples/manifests-v1"))
	r.commit(readTree(t, "../../examples/manifests"))
	cases := []struct {
		name, rev, wantActive, wantRev string
	}{
		{"previous commit", "HEAD~1", "v1", c1.String()},
		{"hash", c1.String(), "v1", c1.String()},
		{"branch", "main", "v2", ""},
		{"work tree", WorkTree, "v2", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ReadRevision(r.dir, tc.rev)
			if err != nil {
				t.Fatal(err)
			}
			if got := activeOf(t, s); got != tc.wantActive {
				t.Errorf("active = %s, want %s", got, tc.wantActive)
			}
			if tc.wantRev != "" && s.Revision != tc.wantRev {
				t.Errorf("revision = %s, want %s", s.Revision, tc.wantRev)
			}
		})
	}
	// Uncommitted edits show in the work tree and not in HEAD.
	p := filepath.Join(r.dir, "app", "schema.yaml")
	if err := os.WriteFile(p, []byte(strings.Replace(mustRead(t, p), "active: v2", "active: v1", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	wt, _ := ReadRevision(r.dir, WorkTree)
	head, _ := ReadRevision(r.dir, "HEAD")
	if activeOf(t, wt) != "v1" || activeOf(t, head) != "v2" {
		t.Errorf("work tree active %s (want v1), HEAD active %s (want v2)", activeOf(t, wt), activeOf(t, head))
	}
	if _, err := ReadRevision(r.dir, "nope~3"); err == nil {
		t.Error("an unknown revision read without error")
	}
}
