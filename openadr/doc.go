// Package openadr owns OpenADR 2.0b over HTTP: the XML payloads of the
// EiRegisterParty, EiEvent, EiOpt and EiReport services, a VEN that polls
// a VTN for events, opts in or out and reports, and a VTN that publishes
// amigo's demand-response events to the VENs registered with it.
package openadr
