// Command mzemu serves the Materialize emulator (internal/mzemu) over an
// existing PostgreSQL database, or, with --embedded, over a throwaway
// PostgreSQL it starts itself. It is a test double for tests and the
// demo, faithful only on the surface internal/mzemu/README.md lists.
package main
