//go:build ignore

// gen_schema writes the JSON Schema of the manifest format to
// mzsync.schema.json; run it with go generate ./spec.
package main

import (
	"log"
	"os"

	"github.com/mzsync/mzsync/spec"
)

func main() {
	b, err := spec.JSONSchema()
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(spec.SchemaFile, b, 0o644); err != nil {
		log.Fatal(err)
	}
}
