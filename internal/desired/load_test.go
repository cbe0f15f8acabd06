package desired

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mzsync/mzsync/internal/golden"
)

// TestLoadExamples pins the desired state of examples/manifests, digests
// included: a digest that changes reads as drift on every deployment, so
// it must only change on purpose.
func TestLoadExamples(t *testing.T) {
	d, err := Load(os.DirFS("../../examples/manifests"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "examples.json", append(b, '\n'))
}

// TestExamplesV1IsTheFirstDeployment: examples/manifests-v1 is
// examples/manifests before v2, so deploying one then the other keeps v1
// (same digest) and the source.
func TestExamplesV1IsTheFirstDeployment(t *testing.T) {
	full, err := Load(os.DirFS("../../examples/manifests"))
	if err != nil {
		t.Fatal(err)
	}
	first, err := Load(os.DirFS("../../examples/manifests-v1"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(full.Sources, first.Sources); diff != "" {
		t.Errorf("sources differ:\n%s", diff)
	}
	fs, vs := full.Schemas[0], first.Schemas[0]
	if vs.Active != "v1" || fs.Active != "v2" || len(vs.Versions) != 1 {
		t.Fatalf("active %s/%s, %d versions in manifests-v1", vs.Active, fs.Active, len(vs.Versions))
	}
	if diff := cmp.Diff(fs.Versions[0], vs.Versions[0]); diff != "" {
		t.Errorf("v1 differs between the examples:\n%s", diff)
	}
	if fs.Versions[0].Digest == fs.Versions[1].Digest {
		t.Error("v1 and v2 share a digest")
	}
}
