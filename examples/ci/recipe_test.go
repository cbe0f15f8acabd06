// Package ci_test runs the CI recipes' pull-request steps (pr-comment.sh)
// locally, against a temporary git repository, with a stub gh that records
// what it would post.
package ci_test

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/mzsync/mzsync/internal/golden"
)

// root is the repository root.
func root(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller information")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// gitEnv makes commits reproducible: fixed identity and dates, no user or
// system configuration.
var gitEnv = []string{
	"GIT_AUTHOR_NAME=ci", "GIT_AUTHOR_EMAIL=ci@example.com", "GIT_AUTHOR_DATE=2026-01-02T03:04:05Z",
	"GIT_COMMITTER_NAME=ci", "GIT_COMMITTER_EMAIL=ci@example.com", "GIT_COMMITTER_DATE=2026-01-02T03:04:05Z",
	"GIT_CONFIG_GLOBAL=" + os.DevNull, "GIT_CONFIG_NOSYSTEM=1",
}

func run(t *testing.T, dir string, env []string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// copyTree copies the regular files under src into dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The stub gh records each call's arguments, one line each, and the body
// of each call that sends one; a listing call (--jq) answers with the
// comment ids in $GH_STUB/existing.
const ghStub = `#!/bin/sh
echo "$*" >>"$GH_STUB/calls"
for a in "$@"; do
	case $a in body=@*) cat "${a#body=@}" >>"$GH_STUB/bodies" ;; esac
done
case "$*" in *--jq*) cat "$GH_STUB/existing" 2>/dev/null ;; esac
exit 0
`

// The stub curl records each call's arguments and the body it sends; a
// call without --request (the listing) answers with $GH_STUB/notes.json.
const curlStub = `#!/bin/sh
echo "$*" >>"$GH_STUB/curl-calls"
for a in "$@"; do
	case $a in body@*) cat "${a#body@}" >>"$GH_STUB/bodies" ;; esac
done
case "$*" in *--request*) ;; *) cat "$GH_STUB/notes.json" ;; esac
exit 0
`

type recipe struct {
	repo, stub, script string
	env                []string
}

// setup builds mzsync, makes the repository (base commit: the example's
// first deployment, examples/manifests-v1, as origin/main; head commit:
// examples/manifests) and puts the stub gh first on PATH.
func setup(t *testing.T) *recipe {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the mzsync binary")
	}
	for _, tool := range []string{"git", "sh", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	r := &recipe{repo: t.TempDir(), stub: t.TempDir(), script: filepath.Join(root(t), "examples", "ci", "pr-comment.sh")}
	bin := t.TempDir()
	run(t, root(t), nil, "go", "build", "-o", filepath.Join(bin, "mzsync"), "./cmd/mzsync")
	if err := os.WriteFile(filepath.Join(bin, "gh"), []byte(ghStub), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "curl"), []byte(curlStub), 0o755); err != nil {
		t.Fatal(err)
	}

	run(t, r.repo, gitEnv, "git", "init", "-q", "-b", "main")
	deploy := filepath.Join(r.repo, "deploy")
	copyTree(t, filepath.Join(root(t), "examples", "manifests-v1"), deploy)
	run(t, r.repo, gitEnv, "git", "add", ".")
	run(t, r.repo, gitEnv, "git", "commit", "-q", "-m", "deploy v1")
	run(t, r.repo, gitEnv, "git", "update-ref", "refs/remotes/origin/main", "HEAD")
	if err := os.RemoveAll(deploy); err != nil {
		t.Fatal(err)
	}
	copyTree(t, filepath.Join(root(t), "examples", "manifests"), deploy)
	run(t, r.repo, gitEnv, "git", "add", "-A")
	run(t, r.repo, gitEnv, "git", "commit", "-q", "-m", "v2: filter on b")

	// Only what the workflow step sets, so the developer's environment
	// (MZSYNC_*, GITHUB_*) cannot leak in.
	r.env = []string{
		"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"GH_STUB=" + r.stub,
		"MZSYNC_BIN=" + filepath.Join(bin, "mzsync"),
		"MZSYNC_DIR=deploy",
		"MZSYNC_BASE=origin/main",
		"COMMENT_VIA=github",
		"GH_REPO=octo/manifests",
		"PR_NUMBER=7",
	}
	return r
}

// runScript runs pr-comment.sh in the repository and returns its exit
// code, stdout, the gh calls and the bodies it sent; it clears the stub's
// records afterwards.
func (r *recipe) runScript(t *testing.T, extraEnv ...string) (code int, stdout string, calls []string, bodies string) {
	t.Helper()
	cmd := exec.Command("sh", r.script, "diff")
	cmd.Dir = r.repo
	cmd.Env = append(append([]string{}, r.env...), extraEnv...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("run pr-comment.sh: %v", err)
	}
	t.Logf("pr-comment.sh stderr:\n%s", errb.String())
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(r.stub, name))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(r.stub, name))
		return string(b)
	}
	c := strings.TrimSpace(read("calls"))
	if c != "" {
		calls = strings.Split(c, "\n")
	}
	return code, out.String(), calls, read("bodies")
}

const listCall = `api --paginate repos/octo/manifests/issues/7/comments --jq .[] | select(.body | startswith("<!-- mzsync-diff -->")) | .id`

// TestPullRequestComment runs the recipe's pull-request step the way the
// workflow does and checks what it would post, and how it exits, for a
// first push, a later push, a changed released version and invalid
// manifests.
func TestPullRequestComment(t *testing.T) {
	r := setup(t)

	t.Run("first push posts one comment", func(t *testing.T) {
		code, _, calls, body := r.runScript(t)
		if code != 0 {
			t.Errorf("exit code %d, want 0", code)
		}
		want := []string{listCall, "api --method POST repos/octo/manifests/issues/7/comments -F body=@" + "BODY"}
		if diff := cmp.Diff(want, normalizeCalls(calls)); diff != "" {
			t.Errorf("gh calls (-want +got):\n%s", diff)
		}
		golden.Check(t, "comment.md", []byte(body))
	})

	t.Run("later push updates that comment", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(r.stub, "existing"), []byte("1234\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(filepath.Join(r.stub, "existing"))
		code, _, calls, body := r.runScript(t)
		if code != 0 {
			t.Errorf("exit code %d, want 0", code)
		}
		want := []string{listCall, "api --method PATCH repos/octo/manifests/issues/comments/1234 -F body=@BODY"}
		if diff := cmp.Diff(want, normalizeCalls(calls)); diff != "" {
			t.Errorf("gh calls (-want +got):\n%s", diff)
		}
		golden.Check(t, "comment.md", []byte(body))
	})

	v1 := filepath.Join(r.repo, "deploy", "app", "v1.yaml")
	orig, err := os.ReadFile(v1)
	if err != nil {
		t.Fatal(err)
	}
	restore := func() {
		if err := os.WriteFile(v1, orig, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("changed released version fails the check and says why", func(t *testing.T) {
		defer restore()
		changed := strings.Replace(string(orig), "SELECT sum(a) AS total FROM t", "SELECT sum(a) + 1 AS total FROM t", 1)
		if changed == string(orig) {
			t.Fatal("examples/manifests/app/v1.yaml no longer holds the query this test edits")
		}
		if err := os.WriteFile(v1, []byte(changed), 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, calls, body := r.runScript(t)
		if code != 1 {
			t.Errorf("exit code %d, want 1", code)
		}
		if len(calls) != 2 {
			t.Errorf("gh calls = %q, want a listing and a POST", calls)
		}
		for _, want := range []string{"<!-- mzsync-diff -->\n", "| **error** | `app/v1` |", "versions are immutable", "materialized-view matview changed: sql"} {
			if !strings.Contains(body, want) {
				t.Errorf("comment lacks %q:\n%s", want, body)
			}
		}
	})

	t.Run("invalid manifests fail the check and are shown", func(t *testing.T) {
		defer restore()
		if err := os.WriteFile(v1, append(append([]byte{}, orig...), "  colour: blue\n"...), 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, _, body := r.runScript(t)
		if code != 1 {
			t.Errorf("exit code %d, want 1", code)
		}
		for _, want := range []string{"<!-- mzsync-diff -->\n", "the manifests are not valid", "app/v1.yaml", "colour"} {
			if !strings.Contains(body, want) {
				t.Errorf("comment lacks %q:\n%s", want, body)
			}
		}
	})

	t.Run("GitLab: the earlier note is found by its marker and updated", func(t *testing.T) {
		if _, err := exec.LookPath("jq"); err != nil {
			t.Skip("needs jq, as the GitLab recipe does")
		}
		notes := `[{"id": 5, "body": "LGTM"}, {"id": 99, "body": "<!-- mzsync-diff -->\nold report"}]`
		if err := os.WriteFile(filepath.Join(r.stub, "notes.json"), []byte(notes), 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, ghCalls, body := r.runScript(t, "COMMENT_VIA=gitlab", "CI_API_V4_URL=https://gitlab.example.com/api/v4",
			"CI_PROJECT_ID=12", "CI_MERGE_REQUEST_IID=7", "GITLAB_TOKEN=glpat-test")
		if code != 0 || len(ghCalls) != 0 {
			t.Errorf("exit code %d and gh calls %q, want 0 and none", code, ghCalls)
		}
		data, err := os.ReadFile(filepath.Join(r.stub, "curl-calls"))
		if err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(r.stub, "curl-calls"))
		notesURL := "https://gitlab.example.com/api/v4/projects/12/merge_requests/7/notes"
		want := []string{
			"-fsS --header PRIVATE-TOKEN: glpat-test " + notesURL + "?per_page=100&sort=asc",
			"-fsS --request PUT --header PRIVATE-TOKEN: glpat-test --data-urlencode body@BODY " + notesURL + "/99",
		}
		var got []string
		for _, c := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			if i, j := strings.Index(c, "body@"), strings.LastIndex(c, " "); i >= 0 && j > i {
				c = c[:i] + "body@BODY" + c[j:]
			}
			got = append(got, c)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("curl calls (-want +got):\n%s", diff)
		}
		golden.Check(t, "comment.md", []byte(body))
	})

	t.Run("locally, without a forge, the comment goes to stdout", func(t *testing.T) {
		code, stdout, calls, _ := r.runScript(t, "COMMENT_VIA=none")
		if code != 0 || len(calls) != 0 {
			t.Errorf("exit code %d and gh calls %q, want 0 and none", code, calls)
		}
		golden.Check(t, "comment.md", []byte(stdout))
	})
}

// normalizeCalls replaces the temporary body file name with BODY.
func normalizeCalls(calls []string) []string {
	out := []string{}
	for _, c := range calls {
		if i := strings.Index(c, "body=@"); i >= 0 {
			c = c[:i] + "body=@BODY"
		}
		out = append(out, c)
	}
	return out
}

// TestRecipesCallTheScript checks that both recipes run pr-comment.sh with
// the variables it reads, so the tested script is the one CI runs.
func TestRecipesCallTheScript(t *testing.T) {
	read := func(name string, v any) {
		t.Helper()
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(data, v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}

	var gh struct {
		On map[string]any `json:"on"`
		// YAML 1.1 reads the key on as true.
		True map[string]any `json:"true"`
		Jobs map[string]struct {
			If    string `json:"if"`
			Steps []struct {
				Run string            `json:"run"`
				Env map[string]string `json:"env"`
			} `json:"steps"`
		} `json:"jobs"`
	}
	read("github-actions.yml", &gh)
	for _, ev := range []string{"pull_request", "push"} {
		_, on := gh.On[ev]
		_, onTrue := gh.True[ev]
		if !on && !onTrue {
			t.Errorf("github-actions.yml: not triggered on %s", ev)
		}
	}
	var diffEnv map[string]string
	for _, s := range gh.Jobs["diff"].Steps {
		if strings.Contains(s.Run, "pr-comment.sh diff") {
			diffEnv = s.Env
		}
	}
	if diffEnv == nil {
		t.Fatal("github-actions.yml: job diff has no step running pr-comment.sh diff")
	}
	for _, k := range []string{"GH_TOKEN", "GH_REPO", "PR_NUMBER", "COMMENT_VIA"} {
		if diffEnv[k] == "" {
			t.Errorf("github-actions.yml: the diff step does not set %s", k)
		}
	}
	if got := diffEnv["MZSYNC_BASE"]; got != "origin/${{ github.base_ref }}" {
		t.Errorf("github-actions.yml: MZSYNC_BASE = %q, want origin/${{ github.base_ref }}", got)
	}
	applies := false
	for _, s := range gh.Jobs["apply"].Steps {
		applies = applies || strings.Contains(s.Run, "mzsync apply") && strings.Contains(s.Run, "--wait")
	}
	if !applies || !strings.Contains(gh.Jobs["apply"].If, "push") {
		t.Error("github-actions.yml: no apply --wait job on push")
	}

	var gl map[string]json.RawMessage
	read("gitlab-ci.yml", &gl)
	var job struct {
		Variables map[string]string `json:"variables"`
		Script    []string          `json:"script"`
	}
	if err := json.Unmarshal(gl["mzsync-diff"], &job); err != nil {
		t.Fatalf("gitlab-ci.yml: job mzsync-diff: %v", err)
	}
	if job.Variables["COMMENT_VIA"] != "gitlab" || !strings.Contains(strings.Join(job.Script, "\n"), `MZSYNC_BASE="origin/$CI_MERGE_REQUEST_TARGET_BRANCH_NAME" ./ci/pr-comment.sh diff`) {
		t.Errorf("gitlab-ci.yml: mzsync-diff does not run pr-comment.sh diff against the target branch with COMMENT_VIA=gitlab: %+v", job)
	}
}
