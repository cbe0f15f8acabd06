package main

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/mzsync/mzsync/internal/pgtest"
)

func TestMain(m *testing.M) {
	testscript.Main(stopPostgres{m}, map[string]func(){
		"mzsync": func() { os.Exit(run()) },
	})
}

// stopPostgres stops the shared PostgreSQL the mz_* scripts started once
// every test has run.
type stopPostgres struct{ m *testing.M }

func (s stopPostgres) Run() int {
	defer pgtest.StopShared()
	return s.m.Run()
}

// TestScripts runs the CLI scripts in testdata/script: each is a txtar file
// of commands and expected output.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup:               setupScript,
		Cmds:                scriptCmds,
	})
}
