// Package sip is Hotline's phone channel over SIP (SPEC §4): a registrar
// for the agents' softphones with digest authentication and lock-out, a
// trunk ingress that accepts INVITEs only from the configured carrier
// addresses, and a back-to-back user agent that turns every call into a
// ticket before anyone rings and then executes the routing plan of package
// channels: the on-duty softphones, the agent's mobile through the trunk,
// each escalation contact's mobile, and otherwise a clear refusal.
//
// It is built on github.com/emiago/sipgo, which provides parsing, the
// transports and the RFC 3261 transactions; the registrar, server-side
// digest authentication, the dialog table and the B2BUA are ours.
//
// The package speaks SIP and nothing else: tickets go through the Intake
// it is given (the journal-backed call intake), registrations through a
// Registry, and who rings comes from a Roster. It never touches the store.
//
// A call's life is split by stage:
//
//	ingress.go    INVITE admission: trunk ACL, overload shedding, caller identity
//	call.go       one inbound call: ticket, routing plan, answer, hang-up
//	fork.go       one step of the plan: the legs it rings and the race to answer
//	leg.go        one outbound INVITE (client side) and its CANCEL
//	dialog.go     established dialogs: in-dialog requests, BYE, re-INVITE relay
//	registrar.go  REGISTER with digest authentication and lock-out
package sip
