// Package probe holds hagen's stand-ins for the closed products of the
// dual-center guide, built into the hagen binary so that `hagen verify`
// can copy one static executable into its containers:
//
//   - Serve is the application server (the guide's Kwanza). The real one
//     speaks gRPC on port 8001; the stand-in speaks plain HTTP/1.1 with
//     JSON bodies on the same port, because what verify measures is
//     whether a request reaches a live server whose database commits, not
//     the wire protocol. Every write is one autocommit INSERT into
//     hagen_probe and is acknowledged only after the commit returned.
//
//   - RunClient is the client library (the guide's Manatee): N servers
//     named 0..N-1.<domain>, a randomized round robin with a first choice,
//     and on a failure a wait of the reconnect delay before failing over to
//     the next server. It writes one JSON Event per line.
//
//   - analysis.go turns those events into the figures of a verify report:
//     recovery time, write gap, acknowledged and lost writes, and the
//     per-site share of connections with its statistical bound.
//
// Both halves are reached through the hidden command `hagen probe`.
package probe
