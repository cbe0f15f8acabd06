package ci_test

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestRecipesPinVersionAndGuardSecrets checks that both recipes install a
// pinned mzsync release (never @latest) and that the production
// credentials reach only the apply job, which runs on the main branch and
// never for pull or merge requests (whose code is unreviewed).
func TestRecipesPinVersionAndGuardSecrets(t *testing.T) {
	pinned := regexp.MustCompile(`^v\d+\.\d+\.\d+$`)
	for _, file := range []string{"github-actions.yml", "gitlab-ci.yml"} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), "mzsync@latest") {
			t.Errorf("%s: installs mzsync@latest", file)
		}
		if !strings.Contains(string(data), "github.com/mzsync/mzsync/cmd/mzsync@${MZSYNC_VERSION}") {
			t.Errorf("%s: does not install mzsync at ${MZSYNC_VERSION}", file)
		}
		var doc map[string]json.RawMessage
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		vars := map[string]string{}
		key := "env"
		if file == "gitlab-ci.yml" {
			key = "variables"
		}
		if err := json.Unmarshal(doc[key], &vars); err != nil {
			t.Fatalf("%s: %s: %v", file, key, err)
		}
		if !pinned.MatchString(vars["MZSYNC_VERSION"]) {
			t.Errorf("%s: MZSYNC_VERSION = %q, want a release such as v1.2.3", file, vars["MZSYNC_VERSION"])
		}
		for k, v := range vars {
			if strings.Contains(k+v, "PRODUCTION") {
				t.Errorf("%s: global %s %s=%s hands production credentials to every job", file, key, k, v)
			}
		}
	}

	var gh struct {
		Jobs map[string]json.RawMessage `json:"jobs"`
	}
	readYAML(t, "github-actions.yml", &gh)
	for name, raw := range gh.Jobs {
		var job struct {
			If          string `json:"if"`
			Environment string `json:"environment"`
		}
		if err := json.Unmarshal(raw, &job); err != nil {
			t.Fatal(err)
		}
		usesProd := strings.Contains(string(raw), "secrets.MZSYNC_PRODUCTION_URL")
		if name == "apply" {
			if !usesProd || !strings.Contains(job.If, "github.event_name == 'push'") || job.Environment != "production" {
				t.Errorf("github-actions.yml: apply must use MZSYNC_PRODUCTION_URL, run on push only, in environment production: if=%q environment=%q", job.If, job.Environment)
			}
			continue
		}
		if usesProd {
			t.Errorf("github-actions.yml: job %s reads the production secret", name)
		}
		if strings.Contains(job.If, "pull_request") && strings.Contains(string(raw), "secrets.") &&
			!strings.Contains(string(raw), "secrets.MZSYNC_STAGING_READONLY_URL") {
			t.Errorf("github-actions.yml: pull-request job %s reads a secret other than the read-only staging URL", name)
		}
	}

	var gl map[string]json.RawMessage
	readYAML(t, "gitlab-ci.yml", &gl)
	for name, raw := range gl {
		if !strings.Contains(string(raw), "MZSYNC_PRODUCTION_URL") {
			continue
		}
		var job struct {
			Rules []struct {
				If string `json:"if"`
			} `json:"rules"`
		}
		if err := json.Unmarshal(raw, &job); err != nil {
			t.Fatalf("gitlab-ci.yml: %s: %v", name, err)
		}
		if name != "mzsync-apply" {
			t.Errorf("gitlab-ci.yml: job %s reads MZSYNC_PRODUCTION_URL", name)
		}
		for _, r := range job.Rules {
			if strings.Contains(r.If, "merge_request") || !strings.Contains(r.If, "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH") {
				t.Errorf("gitlab-ci.yml: %s runs with production credentials on %q", name, r.If)
			}
		}
	}
}

func readYAML(t *testing.T, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}
