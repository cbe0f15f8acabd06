// Package spec is mzsync's manifest format: the Go types of the Source,
// Schema and Version kinds, their strict YAML decoding, validation of a
// whole manifest set, the JSON Schema editors use, and the small SQL lexer
// that checks view queries.
//
// It owns the on-disk contract. It must not do I/O beyond reading the bytes
// it is given, and must not import any mzsync internal package: tools
// outside this module may import it to read or write manifests.
package spec
