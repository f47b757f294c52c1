// Package ticket is the complaint ledger (顾客投诉台账) of the 96596
// hotline: tickets, their handling process, the workflow of the
// regulation (第七条 to 第九条), the SLA clock on a working calendar, calls,
// units, users and callbacks, in SQLite.
//
// # Opening the ledger
//
//	s, err := ticket.Open(ctx, "var/hotline.db",
//		ticket.WithCalendar(cal), ticket.WithDeadlines(d), ticket.WithRepeatWindow(72*time.Hour),
//		ticket.WithClock(now), ticket.WithLogger(log))
//	defer s.Close()
//
// Open creates the file if needed and applies the embedded migrations.
// config.(*Config).OpenLedger does this from the configuration file and
// also loads the units directory (SyncUnits). Migrate runs the migrations
// alone; Backup copies a live ledger with SQLite's online backup.
//
// # What the call flows use
//
//	OpenForCall(ctx, CallInfo)        the call record + its ticket, before anything else; idempotent on CallInfo.CallID
//	SetLine(ctx, callID, line)        the IVR's business line; applies 并单 and returns the effective ticket
//	AssignAgent(ctx, callID, userID)  the agent who answered
//	Apply(ctx, ticketID, Change{Action: ActTransfer, Unit: u})  the transfer to a unit (against the 1-hour deadline)
//	TransferFailed(ctx, ticketID, unit, reason, actor)          a transfer that did not connect
//	EndCall(ctx, callID, CallEnd)     end time, reason (a telephony.Reason as text), cause, IVR choice, recording
//	AttachRecording(ctx, ticketID, callID, kind, path, d)       a message left after hours
//	ScheduleCallback / ClaimCallback / FinishCallback            callbacks with leases for the dialer
//	PutUser, SetLoggedIn, Users       agents (and unit staff, supervisors); login state survives restarts
//
// A caller ID that is empty, anonymous or malformed is stored as
// UnknownCaller, never refused. Writes from concurrent callers share a
// transaction (group commit), each in a savepoint of its own so that one
// that fails is undone alone; each returns once it is durable. Openings
// of a batch go in with one statement per table.
//
// # The workflow
//
// Apply takes an Action on a ticket; Allowed tells which actions a status
// allows. A refused action is a *TransitionError; a Change whose Version
// is not the ticket's current one fails with ErrConflict (optimistic
// concurrency: of two replies to the same version one wins). Every change
// and its Event are written in one transaction; ticket_events is
// append-only.
//
// # Deadlines
//
// Each timed Stage (transfer, sheet, feedback, callback) of a ticket has a
// Deadline computed by the Rule of that stage on the calendar: due time,
// when it was met, late or not. OpenDeadlines and Overdue list open ones;
// OpenCounts counts open and overdue ones per stage and unit from a
// partial index (cheap enough for every metrics scrape).
//
// # Reading
//
// Ticket, TicketByNumber and TicketForCall return a Detail (the ticket
// with its events, deadlines and calls); CallerHistory lists a caller's
// earlier tickets for the screen-pop; List filters tickets. MonthFigures
// and PublishReport/PublishedReport feed package report.
//
// Times are stored in UTC as fixed-width text and returned as time.Time;
// the public number 96596-YYYYMMDD-NNNN uses the calendar's date
// (Asia/Shanghai).
package ticket
