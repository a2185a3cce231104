//! Native integration tests of the core, one binary (see ARCHITECTURE.md, "Testing").
//! Each module is one topic; browser tests live in `tests/e2e/`.

mod bridge_json;
// Message text split into plain text and links for display.
mod text_linkify;
// The worker model: requests, engine reports and storage, two workers chatting.
mod worker_model;
// Files and images through the worker: stored, sent, received, accepted, refused, cancelled (issue 15).
mod worker_files;
// Managing conversations in the worker: delete, leave, mute, rename, pin, notification clicks.
mod worker_conversations;
// TURN logins and "Relay only": saved, exported, imported, and on every connection.
mod settings_turn;
// Search across every conversation: found after a restart, kept up to date, opened, sealed (issue 15).
mod search;
// The chat layer: a simulated network (`chat_sim`), then one topic per file.
// Attacks on rooms from members and strangers (issue 13).
// Replies, reactions, edits, deletes, typing and receipts (issue 15); and forged edits and deletes.
mod chat_action_attacks;
mod chat_actions;
mod chat_append_cost;
mod chat_attacks;
mod chat_interop;
// Leaving a group (a signed leave, forged ones refused) and deleting a conversation.
mod chat_manage;
mod chat_mesh;
mod chat_props;
// Strangers: message requests, blocks, links that never greet, what dials reveal.
mod chat_requests;
mod chat_sim;
mod chat_timers;
// A link closed with frames still queued (the engine's bound per link) loses no message.
mod link_overflow;
// Hostile storage: every record the worker loads, damaged, is reported and never overwritten.
mod storage_props;
// Identity keys, the DTLS-bound handshake (honest, relayed, replayed, hostile) and the contact book.
mod identity;
// The identity gate on every link: authenticate, hold chat until then, refuse a middle.
mod auth_gate;
// The popup's message catalogues (`_locales`): complete, consistent, and nothing hard-coded.
mod popup_catalogue;
// Drafts (sealed like history) and "Forgot passphrase: erase and start over", through the worker.
mod worker_drafts;
// The PeerJS data-channel codecs: BinaryPack and per-serialization framing, golden bytes and properties.
mod peerjs_codec;
// The PeerJS peer: signaling, reconnects, connections through a simulated server.
mod peerjs_peer;
// File transfers (issue 15): a simulated network (`transfer_sim`), honest flows, and hostile peers.
mod transfer;
mod transfer_attacks;
mod transfer_sim;
