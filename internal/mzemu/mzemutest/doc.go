// Package mzemutest starts an mzemu emulator over the calling test
// package's shared pgtest cluster, with a fresh backing database and a
// fresh upstream database, for integration tests.
package mzemutest
