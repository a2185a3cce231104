//! The PeerJS data-channel codecs: BinaryPack bytes and framing checked against what a stock PeerJS 1.5.5
//! peer was seen to send (`peerjs-protocol.md` §6) and what a 1.2.0 peer sends and reads on `json` (its
//! `dataconnection.ts`), then round trips and hostile input by property.

use multichat_core::peerjs::binarypack::{self, BinaryPackError, Value};
use multichat_core::peerjs::framing::{
    CHUNK_BYTES, ChannelMessage, Decoder, DecoderLimits, Encoder, FramingError, JsonFrames, MAX_CHANNEL_MESSAGE_BYTES,
    MAX_JSON_BYTES, Received, Serialization,
};
use proptest::prelude::*;
use serde_json::json;

fn s(text: &str) -> Value {
    Value::Str(text.to_owned())
}

fn binary(message: &ChannelMessage) -> &[u8] {
    match message {
        ChannelMessage::Binary(bytes) => bytes,
        ChannelMessage::Text(text) => panic!("expected a binary frame, got text {text:?}"),
    }
}

/// Feeds messages to a decoder and collects what came out, failing on any error.
fn decode_all(decoder: &mut Decoder, messages: Vec<ChannelMessage>) -> Vec<Received> {
    let mut out = Vec::new();
    for message in messages {
        if let Some(received) = decoder.decode(message).expect("decodes") {
            out.push(received);
        }
    }
    out
}

/// A packed chunk map, for hand-made (and malformed) chunks.
fn chunk(id: Value, n: Value, data: Value, total: Value) -> ChannelMessage {
    let map = Value::Map(vec![(s("__peerData"), id), (s("n"), n), (s("data"), data), (s("total"), total)]);
    ChannelMessage::Binary(binarypack::pack(&map))
}

fn piece(id: u64, n: u64, data: &[u8], total: u64) -> ChannelMessage {
    chunk(Value::UInt(id), Value::UInt(n), Value::Bin(data.to_vec()), Value::UInt(total))
}

#[test]
fn a_stock_done_message_packs_to_the_bytes_seen() {
    // `{t:"done",bytes:10485760,msgs:640,recvMs:…}` as a stock peer packed it (keys in insertion order).
    let value = Value::Map(vec![
        (s("t"), s("done")),
        (s("bytes"), Value::Int(10_485_760)),
        (s("msgs"), Value::Int(640)),
        (s("recvMs"), Value::Float(1234.5)),
    ]);
    let mut expected = vec![0x84, 0xb1, b't', 0xb4];
    expected.extend_from_slice(b"done");
    expected.push(0xb5);
    expected.extend_from_slice(b"bytes");
    expected.extend_from_slice(&[0xce, 0x00, 0xa0, 0x00, 0x00, 0xb4]);
    expected.extend_from_slice(b"msgs");
    expected.extend_from_slice(&[0xcd, 0x02, 0x80, 0xb6]);
    expected.extend_from_slice(b"recvMs");
    expected.push(0xcb);
    expected.extend_from_slice(&1234.5f64.to_be_bytes());
    let packed = binarypack::pack(&value);
    assert_eq!(packed, expected);
    assert_eq!(binarypack::unpack(&packed), Ok(value));
}

#[test]
fn a_16000_byte_array_goes_as_one_frame() {
    let mut encoder = Encoder::new(Serialization::Binary);
    let messages = encoder.encode_packed(&Value::Bin(vec![7; 16000])).unwrap();
    assert_eq!(messages.len(), 1);
    let frame = binary(&messages[0]);
    assert_eq!(frame.len(), 16003);
    assert_eq!(frame[..3], [0xda, 0x3e, 0x80]);
}

#[test]
fn a_16384_byte_array_goes_as_two_chunks_of_the_sizes_seen() {
    let data: Vec<u8> = (0..16384u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(binarypack::pack(&Value::Bin(data.clone())).len(), 16387);
    let mut encoder = Encoder::new(Serialization::Binary);
    let messages = encoder.encode_packed(&Value::Bin(data.clone())).unwrap();
    let sizes: Vec<usize> = messages.iter().map(ChannelMessage::len).collect();
    assert_eq!(sizes, [16331, 118]);

    // The first piece, byte by byte: {"__peerData": 1, "n": 0, "data": <16300 bytes>, "total": 2}.
    let first = binary(&messages[0]);
    let mut head = vec![0x84, 0xba];
    head.extend_from_slice(b"__peerData");
    head.extend_from_slice(&[0x01, 0xb1, b'n', 0x00, 0xb4]);
    head.extend_from_slice(b"data");
    head.extend_from_slice(&[0xda, 0x3f, 0xac]);
    assert_eq!(first[..head.len()], head[..]);
    let mut tail = vec![0xb5];
    tail.extend_from_slice(b"total");
    tail.push(0x02);
    assert_eq!(first[first.len() - tail.len()..], tail[..]);
    assert_eq!(binary(&messages[1])[..21], [&head[..15], &[0x01, 0xb4, b'd', b'a', b't', b'a']].concat()[..]);

    // Reassembled, it is what a stock receiver hands its application for an ArrayBuffer… as JSON bytes.
    let mut decoder = Decoder::new(Serialization::Binary);
    assert_eq!(decoder.decode(messages[0].clone()), Ok(None));
    assert_eq!(decoder.partial_count(), 1);
    assert_eq!(decoder.buffered_bytes(), CHUNK_BYTES);
    let received = decoder.decode(messages[1].clone()).unwrap();
    assert_eq!(received, Some(Received::Value(binarypack::to_json(&Value::Bin(data)))));
    assert_eq!((decoder.partial_count(), decoder.buffered_bytes()), (0, 0));
}

#[test]
fn chunk_ids_count_chunked_messages_from_one() {
    let mut encoder = Encoder::new(Serialization::Binary);
    let big = Value::Bin(vec![0; 20000]);
    let id_of = |messages: &[ChannelMessage]| match binarypack::unpack(binary(&messages[0])).unwrap() {
        Value::Map(pairs) => pairs[0].1.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(id_of(&encoder.encode_packed(&big).unwrap()), Value::Int(1));
    // A small message is not chunked and takes no id.
    assert_eq!(encoder.encode(&json!("small")).unwrap().len(), 1);
    assert_eq!(id_of(&encoder.encode_packed(&big).unwrap()), Value::Int(2));
}

#[test]
fn the_close_signal_in_each_serialization() {
    let mut json_encoder = Encoder::new(Serialization::Json);
    let close = json_encoder.encode_close();
    assert_eq!(close, [ChannelMessage::Binary(br#"{"__peerData":{"type":"close"}}"#.to_vec())]);
    assert_eq!(close[0].len(), 31);
    // The same value through `encode` is the same bytes.
    assert_eq!(json_encoder.encode(&json!({"__peerData": {"type": "close"}})).unwrap(), close);
    assert_eq!(decode_all(&mut Decoder::new(Serialization::Json), close), [Received::Close]);

    let close = Encoder::new(Serialization::Binary).encode_close();
    let mut expected = vec![0x81, 0xba];
    expected.extend_from_slice(b"__peerData");
    expected.extend_from_slice(&[0x81, 0xb4]);
    expected.extend_from_slice(b"type");
    expected.push(0xb5);
    expected.extend_from_slice(b"close");
    assert_eq!(close, [ChannelMessage::Binary(expected)]);
    assert_eq!(decode_all(&mut Decoder::new(Serialization::Binary), close), [Received::Close]);

    assert_eq!(Encoder::new(Serialization::Raw).encode_close(), []);
    let text = ChannelMessage::Text(r#"{"__peerData":{"type":"close"}}"#.into());
    assert_eq!(
        decode_all(&mut Decoder::new(Serialization::Raw), vec![text]),
        [Received::Value(json!(r#"{"__peerData":{"type":"close"}}"#))]
    );
}

#[test]
fn serialization_names() {
    for (offer, expected) in [
        ("json", Serialization::Json),
        ("binary", Serialization::Binary),
        ("binary-utf8", Serialization::Binary),
        ("default", Serialization::Binary),
        ("raw", Serialization::Raw),
    ] {
        assert_eq!(Serialization::from_offer(offer), Ok(expected));
        let parsed: Serialization = serde_json::from_value(json!(offer)).unwrap();
        assert_eq!(parsed, expected);
    }
    assert_eq!(Serialization::from_offer("none"), Err(FramingError::UnknownSerialization("none".into())));
    assert_eq!(Serialization::Binary.as_offer(), "binary");
    assert_eq!(serde_json::to_value(Serialization::Raw).unwrap(), json!("raw"));
    assert_eq!(Serialization::default(), Serialization::Json);
}

#[test]
fn json_is_one_binary_frame_below_the_stock_limit() {
    let mut encoder = Encoder::new(Serialization::Json);
    assert_eq!(
        encoder.encode(&json!({"t": "ping", "i": 0})).unwrap(),
        [ChannelMessage::Binary(br#"{"i":0,"t":"ping"}"#.to_vec())]
    );
    // `"` + text + `"`: 16299 bytes is the largest a stock sender would send.
    let largest = json!("x".repeat(MAX_JSON_BYTES - 2));
    assert_eq!(encoder.encode(&largest).unwrap()[0].len(), 16299);
    let too_big = json!("x".repeat(MAX_JSON_BYTES - 1));
    assert_eq!(encoder.encode(&too_big), Err(FramingError::MessageTooBig { size: 16300, limit: 16299 }));
}

#[test]
fn json_for_a_peerjs_1_2_peer_is_one_text_frame_and_no_close_signal() {
    // PeerJS 1.2.0 sends `JSON.stringify(v)` with `dataChannel.send(string)` and reads `JSON.parse(e.data)`.
    let mut encoder = Encoder::new(Serialization::Json);
    assert_eq!(encoder.json_frames(), JsonFrames::Binary, "multichat and 1.5 are the default");
    encoder.set_json_frames(JsonFrames::Text);
    let chat =
        json!({"type": "chat", "chat": {"sender": "alice", "message": "hé 👋", "timestamp": 1_700_000_000_000u64}});
    assert_eq!(
        encoder.encode(&chat).unwrap(),
        [ChannelMessage::Text(
            r#"{"chat":{"message":"hé 👋","sender":"alice","timestamp":1700000000000},"type":"chat"}"#.into()
        )]
    );
    // The same size limit in either frame type.
    let too_big = json!("x".repeat(MAX_JSON_BYTES - 1));
    assert_eq!(encoder.encode(&too_big), Err(FramingError::MessageTooBig { size: 16300, limit: 16299 }));
    // 1.2.0 has no close signal; it would take `{"__peerData":…}` for a chunk. Closing the channel says it.
    assert_eq!(encoder.encode_close(), []);
    // What a 1.2.0 page writes (JavaScript key order) reads back as the value.
    let from_page = ChannelMessage::Text(
        r#"{"type":"chat","chat":{"sender":"dave","message":"hi 👋","timestamp":1700000000001}}"#.into(),
    );
    assert_eq!(JsonFrames::of_message(&from_page), JsonFrames::Text);
    assert_eq!(
        Decoder::new(Serialization::Json).decode(from_page),
        Ok(Some(Received::Value(
            json!({"type": "chat", "chat": {"sender": "dave", "message": "hi 👋", "timestamp": 1_700_000_000_001u64}})
        )))
    );
    // The release is told by the `browser` field PeerJS 1.0-1.4 put in OFFER and ANSWER payloads.
    assert_eq!(JsonFrames::from_browser_field(Some("chrome")), JsonFrames::Text);
    assert_eq!(JsonFrames::from_browser_field(Some("firefox")), JsonFrames::Text);
    assert_eq!(JsonFrames::from_browser_field(None), JsonFrames::Binary);
    assert_eq!(JsonFrames::of_message(&ChannelMessage::Binary(b"{}".to_vec())), JsonFrames::Binary);
    // Switching back gives exactly the 1.5 frames again.
    encoder.set_json_frames(JsonFrames::Binary);
    assert_eq!(
        encoder.encode(&json!({"t": "ping", "i": 0})).unwrap(),
        [ChannelMessage::Binary(br#"{"i":0,"t":"ping"}"#.to_vec())]
    );
    assert_eq!(encoder.encode_close().len(), 1);
}

#[test]
fn frame_choice_applies_to_json_only() {
    for serialization in [Serialization::Binary, Serialization::Raw] {
        let mut plain = Encoder::new(serialization);
        let mut told = Encoder::new(serialization);
        told.set_json_frames(JsonFrames::Text);
        let value = json!({"a": [1, "b"]});
        assert_eq!(plain.encode(&value), told.encode(&value), "{serialization:?}");
        assert_eq!(plain.encode_close(), told.encode_close(), "{serialization:?}");
    }
}

#[test]
fn json_decoding_is_as_lenient_as_a_browser() {
    let mut decoder = Decoder::new(Serialization::Json);
    let value = Some(Received::Value(json!({"a": 1})));
    assert_eq!(decoder.decode(ChannelMessage::Text(r#"{"a":1}"#.into())), Ok(value.clone()));
    assert_eq!(decoder.decode(ChannelMessage::Binary(b"\xef\xbb\xbf{\"a\":1}".to_vec())), Ok(value));
    assert_eq!(
        decoder.decode(ChannelMessage::Binary(b"\"\xff\"".to_vec())),
        Ok(Some(Received::Value(json!("\u{fffd}"))))
    );
    assert!(matches!(decoder.decode(ChannelMessage::Binary(b"{".to_vec())), Err(FramingError::InvalidJson(_))));
    // `__peerData` that is not a close signal is ordinary data, as for stock.
    let odd = json!({"__peerData": {"type": "open"}});
    assert_eq!(decoder.decode(ChannelMessage::Binary(odd.to_string().into_bytes())), Ok(Some(Received::Value(odd))));
}

#[test]
fn raw_passes_frames_through() {
    let mut encoder = Encoder::new(Serialization::Raw);
    assert_eq!(encoder.encode(&json!("hi")).unwrap(), [ChannelMessage::Text("hi".into())]);
    assert_eq!(encoder.encode(&json!({"a": [1]})).unwrap(), [ChannelMessage::Text(r#"{"a":[1]}"#.into())]);
    let mut decoder = Decoder::new(Serialization::Raw);
    assert_eq!(decoder.decode(ChannelMessage::Text("hi".into())), Ok(Some(Received::Value(json!("hi")))));
    assert_eq!(decoder.decode(ChannelMessage::Binary(vec![1, 2])), Ok(Some(Received::Value(json!([1, 2])))));
    let huge = json!("x".repeat(262_145));
    assert!(matches!(encoder.encode(&huge), Err(FramingError::MessageTooBig { .. })));
}

#[test]
fn binary_values_that_stock_treats_as_plain_data() {
    let mut decoder = Decoder::new(Serialization::Binary);
    // A falsy `__peerData` is not looked at by a stock receiver.
    for falsy in [Value::Int(0), Value::Nil, Value::Bool(false), s("")] {
        let map = Value::Map(vec![(s("__peerData"), falsy.clone()), (s("x"), Value::Int(1))]);
        let received = decoder.decode(ChannelMessage::Binary(binarypack::pack(&map))).unwrap();
        assert_eq!(received, Some(Received::Value(binarypack::to_json(&map))));
    }
    assert_eq!(decoder.decode(ChannelMessage::Text("hi".into())), Err(FramingError::UnexpectedText));
    assert!(matches!(decoder.decode(ChannelMessage::Binary(vec![])), Err(FramingError::BinaryPack(_))));
    assert!(matches!(
        decoder.decode(ChannelMessage::Binary(vec![0xc0, 0xc0])),
        Err(FramingError::BinaryPack(BinaryPackError::TrailingBytes { .. }))
    ));
}

#[test]
fn malformed_chunks_are_errors_that_drop_only_their_message() {
    let mut decoder = Decoder::new(Serialization::Binary);
    let whole = binarypack::pack(&s("hello, world"));
    let (a, b) = whole.split_at(5);
    let expect_hello = Ok(Some(Received::Value(json!("hello, world"))));

    // Wrong shapes.
    let bad = [
        chunk(s("x"), Value::Int(0), Value::Bin(vec![]), Value::Int(2)),
        chunk(Value::Int(1), Value::Int(-1), Value::Bin(vec![]), Value::Int(2)),
        chunk(Value::Int(1), Value::Int(0), s("text"), Value::Int(2)),
        chunk(Value::Int(1), Value::Int(0), Value::Bin(vec![]), Value::Nil),
    ];
    for message in bad {
        assert!(matches!(decoder.decode(message), Err(FramingError::MalformedChunk(_))));
    }
    assert_eq!(
        decoder.decode(piece(1, 0, a, 0)),
        Err(FramingError::ChunkTotalOutOfRange { id: 1, total: 0, limit: 1030 })
    );
    assert!(matches!(decoder.decode(piece(1, 0, a, 5000)), Err(FramingError::ChunkTotalOutOfRange { .. })));
    assert_eq!(decoder.decode(piece(1, 2, a, 2)), Err(FramingError::ChunkIndexOutOfRange { id: 1, n: 2, total: 2 }));

    // A duplicate drops the partial; the message can then start over.
    assert_eq!(decoder.decode(piece(1, 0, a, 2)), Ok(None));
    assert_eq!(decoder.decode(piece(1, 0, a, 2)), Err(FramingError::DuplicateChunk { id: 1, n: 0 }));
    assert_eq!(decoder.partial_count(), 0);
    assert_eq!(decoder.decode(piece(1, 1, b, 2)), Ok(None));
    assert_eq!(decoder.decode(piece(1, 0, a, 2)), expect_hello);

    // Pieces that disagree on the total.
    assert_eq!(decoder.decode(piece(2, 0, a, 2)), Ok(None));
    assert_eq!(
        decoder.decode(piece(2, 1, b, 3)),
        Err(FramingError::ChunkTotalMismatch { id: 2, total: 3, expected: 2 })
    );
    assert_eq!((decoder.partial_count(), decoder.buffered_bytes()), (0, 0));

    // A single-piece chunked message is complete on arrival.
    assert_eq!(decoder.decode(piece(3, 0, &whole, 1)), expect_hello);

    // Pieces that join into garbage, or into another chunk.
    assert!(matches!(decoder.decode(piece(4, 0, &[0xc0, 0xc0], 1)), Err(FramingError::BinaryPack(_))));
    let inner = binary(&piece(9, 0, &whole, 1)).to_vec();
    assert_eq!(decoder.decode(piece(5, 0, &inner, 1)), Err(FramingError::NestedChunk));
    // A chunked close signal closes.
    let close = binary(&Encoder::new(Serialization::Binary).encode_close()[0]).to_vec();
    let (c1, c2) = close.split_at(3);
    assert_eq!(decoder.decode(piece(6, 1, c2, 2)), Ok(None));
    assert_eq!(decoder.decode(piece(6, 0, c1, 2)), Ok(Some(Received::Close)));

    // After all that, ordinary traffic still flows.
    assert_eq!(decoder.decode(ChannelMessage::Binary(whole)), expect_hello);
    assert_eq!(decoder.partial_count(), 0);
}

#[test]
fn the_decoder_bounds_what_it_holds() {
    let limits = DecoderLimits { max_message_bytes: 100, max_pieces: 4, max_partials: 2, max_buffered_bytes: 150 };
    let mut decoder = Decoder::with_limits(Serialization::Binary, limits);
    let whole = binarypack::pack(&s("hello, world"));
    let (a, b) = whole.split_at(5);

    assert!(matches!(decoder.decode(piece(1, 0, a, 5)), Err(FramingError::ChunkTotalOutOfRange { limit: 4, .. })));

    // One message may not exceed 100 bytes.
    assert_eq!(decoder.decode(piece(1, 0, &[0; 60], 2)), Ok(None));
    assert_eq!(decoder.decode(piece(1, 1, &[0; 60], 2)), Err(FramingError::ChunkedMessageTooBig { id: 1, limit: 100 }));
    assert_eq!((decoder.partial_count(), decoder.buffered_bytes()), (0, 0));

    // All partials together may not exceed 150 bytes.
    assert_eq!(decoder.decode(piece(2, 0, &[0; 80], 3)), Ok(None));
    assert_eq!(decoder.decode(piece(3, 0, &[0; 80], 3)), Err(FramingError::TooMuchBuffered { id: 3, limit: 150 }));
    assert_eq!((decoder.partial_count(), decoder.buffered_bytes()), (1, 80));

    // A third message in flight evicts the oldest.
    assert_eq!(decoder.decode(piece(4, 0, a, 2)), Ok(None));
    assert_eq!(decoder.decode(piece(5, 0, a, 2)), Err(FramingError::TooManyPartials { evicted_id: 2, limit: 2 }));
    assert_eq!((decoder.partial_count(), decoder.buffered_bytes()), (2, 2 * a.len()));
    // The pieces kept complete their messages.
    assert_eq!(decoder.decode(piece(5, 1, b, 2)), Ok(Some(Received::Value(json!("hello, world")))));
    assert_eq!(decoder.decode(piece(4, 1, b, 2)), Ok(Some(Received::Value(json!("hello, world")))));
    assert_eq!((decoder.partial_count(), decoder.buffered_bytes()), (0, 0));
}

#[test]
fn frames_beyond_the_channel_limit_are_refused() {
    let mut decoder = Decoder::new(Serialization::Binary);
    let huge = ChannelMessage::Binary(binarypack::pack(&Value::Bin(vec![0; 262_144])));
    assert!(matches!(decoder.decode(huge), Err(FramingError::MessageTooBig { limit: 262_144, .. })));
    let mut encoder = Encoder::new(Serialization::Binary);
    let too_big = Value::Bin(vec![0; 16 * 1024 * 1024]);
    assert!(matches!(encoder.encode_packed(&too_big), Err(FramingError::MessageTooBig { .. })));
    assert_eq!(
        Encoder::new(Serialization::Json).encode_packed(&Value::Nil),
        Err(FramingError::NotBinary(Serialization::Json))
    );
}

// ---- Properties ----

/// Any BinaryPack value except NaN (which is never equal to itself). Lengths reach past 15 so the
/// 16-bit headers are exercised.
fn pack_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Nil),
        Just(Value::Undefined),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        any::<u64>().prop_map(Value::UInt),
        (-300i64..300).prop_map(Value::Int),
        any::<f64>().prop_filter("NaN is not equal to itself", |f| !f.is_nan()).prop_map(Value::Float),
        "\\PC{0,24}".prop_map(Value::Str),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(Value::Bin),
    ];
    leaf.prop_recursive(4, 96, 20, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..20).prop_map(Value::Array),
            prop::collection::vec((inner.clone(), inner), 0..18).prop_map(Value::Map),
        ]
    })
}

/// The form `unpack` returns: `Undefined` packs as nil, and integers are `Int` whenever they fit.
fn canonical(value: &Value) -> Value {
    match value {
        Value::Undefined => Value::Nil,
        Value::UInt(n) => i64::try_from(*n).map_or(Value::UInt(*n), Value::Int),
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        Value::Map(pairs) => Value::Map(pairs.iter().map(|(k, v)| (canonical(k), canonical(v))).collect()),
        other => other.clone(),
    }
}

/// Arbitrary JSON. Floats are multiples of 1/64, which print and parse exactly (serde_json's default
/// float parser is not exact for every double).
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        (-1_000_000i64..1_000_000).prop_map(|n| serde_json::Value::from(n as f64 / 64.0)),
        "\\PC{0,30}".prop_map(serde_json::Value::from),
        "(__peerData|n|data|total|type|close)".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 64, 10, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..10).prop_map(serde_json::Value::Array),
            prop::collection::btree_map("\\PC{0,10}|__peerData|type", inner, 0..10)
                .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A long Unicode string of up to about 200 KB, to force chunking.
fn big_string() -> impl Strategy<Value = String> {
    ("\\PC{1,8}", 0usize..200_000).prop_map(|(unit, bytes)| unit.repeat(bytes / unit.len() + 1))
}

/// What a peer hands its application for `value` after it crossed a connection of `serialization`;
/// `None` when the receiver must fail, as a stock one would (a truthy `__peerData` that is not a close
/// signal is taken for a chunk on `binary`).
fn expected_after(serialization: Serialization, value: &serde_json::Value) -> Option<Received> {
    let peer_data = value.get("__peerData");
    let is_close = peer_data.and_then(|p| p.get("type")) == Some(&json!("close"));
    let truthy = |v: &serde_json::Value| match v {
        serde_json::Value::Null => false,
        serde_json::Value::Bool(b) => *b,
        serde_json::Value::Number(n) => n.as_f64() != Some(0.0),
        serde_json::Value::String(s) => !s.is_empty(),
        _ => true,
    };
    match serialization {
        Serialization::Raw => Some(Received::Value(match value {
            serde_json::Value::String(_) => value.clone(),
            other => serde_json::Value::String(other.to_string()),
        })),
        _ if is_close => Some(Received::Close),
        Serialization::Binary if peer_data.is_some_and(truthy) => None,
        _ => Some(Received::Value(value.clone())),
    }
}

/// Encodes, decodes and compares with [`expected_after`].
fn check_crossing(serialization: Serialization, value: &serde_json::Value) -> Result<(), TestCaseError> {
    let mut encoder = Encoder::new(serialization);
    let mut decoder = Decoder::new(serialization);
    match encoder.encode(value) {
        Ok(messages) => {
            if serialization == Serialization::Binary {
                let packed = binarypack::pack(&binarypack::from_json(value)).len();
                prop_assert_eq!(messages.len(), packed.div_ceil(CHUNK_BYTES));
            }
            let mut received = Vec::new();
            let mut failed = false;
            for message in messages {
                match decoder.decode(message) {
                    Ok(Some(it)) => received.push(it),
                    Ok(None) => {}
                    Err(_) => failed = true,
                }
            }
            match expected_after(serialization, value) {
                Some(expected) => {
                    prop_assert!(!failed);
                    prop_assert_eq!(received, vec![expected]);
                }
                None => prop_assert!(failed && received.is_empty()),
            }
        }
        Err(FramingError::MessageTooBig { size, .. }) => match serialization {
            // json stops where the stock sender does; raw at what one channel message may carry (JSON text
            // of a value full of escaped characters can pass that).
            Serialization::Json => prop_assert!(size >= CHUNK_BYTES),
            Serialization::Raw => prop_assert!(size > MAX_CHANNEL_MESSAGE_BYTES),
            Serialization::Binary => prop_assert!(false, "binary chunks any size"),
        },
        Err(other) => prop_assert!(false, "unexpected error {}", other),
    }
    prop_assert_eq!(decoder.partial_count(), 0);
    Ok(())
}

fn serialization() -> impl Strategy<Value = Serialization> {
    prop_oneof![Just(Serialization::Json), Just(Serialization::Binary), Just(Serialization::Raw)]
}

/// Messages with some junk frames inserted, given as (position, bytes) pairs.
fn with_junk(messages: Vec<ChannelMessage>, junk: Vec<(usize, Vec<u8>)>) -> Vec<(bool, ChannelMessage)> {
    let mut out: Vec<(bool, ChannelMessage)> = messages.into_iter().map(|m| (false, m)).collect();
    for (at, bytes) in junk {
        let at = at % (out.len() + 1);
        out.insert(at, (true, ChannelMessage::Binary(bytes)));
    }
    out
}

#[test]
fn file_chunks_travel_as_raw_binary_only_between_peers_that_read_binary_json_frames() {
    let chunk = multichat_core::transfer::wire::encode_chunk(
        &multichat_core::transfer::TransferId::from_random([3; 16]),
        7,
        &[1, 2, 3],
    );
    let mut encoder = Encoder::new(Serialization::Json);
    let message = encoder.encode_bytes(chunk.clone()).expect("a 1.5 or multichat peer reads binary frames");
    assert_eq!(binary(&message), &chunk[..], "sent as it is, no JSON around it");
    let mut decoder = Decoder::new(Serialization::Json);
    assert_eq!(decode_all(&mut decoder, vec![message]), [Received::Bytes(chunk.clone())]);
    // JSON still decodes as JSON on the same connection.
    let frame = encoder.encode(&json!({"type": "mc.ping", "n": 1})).unwrap();
    assert_eq!(decode_all(&mut decoder, frame), [Received::Value(json!({"type": "mc.ping", "n": 1}))]);

    // Never to PeerJS 1.0-1.4 (it reads text frames only), never on the other serializations, never bytes
    // that could be read as JSON, never more than a channel message.
    encoder.set_json_frames(JsonFrames::Text);
    assert_eq!(encoder.encode_bytes(chunk.clone()), Err(FramingError::BytesNotCarried));
    for serialization in [Serialization::Binary, Serialization::Raw] {
        assert_eq!(Encoder::new(serialization).encode_bytes(chunk.clone()), Err(FramingError::BytesNotCarried));
    }
    let json_encoder = Encoder::new(Serialization::Json);
    assert_eq!(json_encoder.encode_bytes(b"{\"type\":1}".to_vec()), Err(FramingError::BytesNotCarried));
    assert_eq!(json_encoder.encode_bytes(Vec::new()), Err(FramingError::BytesNotCarried));
    let mut huge = vec![0u8; MAX_CHANNEL_MESSAGE_BYTES + 1];
    huge[0] = 0;
    assert!(matches!(json_encoder.encode_bytes(huge.clone()), Err(FramingError::MessageTooBig { .. })));
    assert!(matches!(decoder.decode(ChannelMessage::Binary(huge)), Err(FramingError::MessageTooBig { .. })));
    // A zero byte in a text frame (1.x) is not taken for bytes: it is just not JSON.
    let text = ChannelMessage::Text("\u{0}mcf".to_owned());
    assert!(matches!(decoder.decode(text), Err(FramingError::InvalidJson(_))));
}

proptest! {
    #[test]
    fn pack_then_unpack_is_canonical_identity(value in pack_value()) {
        let packed = binarypack::pack(&value);
        prop_assert_eq!(binarypack::unpack(&packed), Ok(canonical(&value)));
    }

    #[test]
    fn json_through_binarypack_is_identity(value in json_value()) {
        let packed = binarypack::pack(&binarypack::from_json(&value));
        prop_assert_eq!(binarypack::to_json(&binarypack::unpack(&packed).unwrap()), value);
    }

    #[test]
    fn unpack_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = binarypack::unpack(&bytes);
        let _ = binarypack::unpack_prefix(&bytes);
    }

    #[test]
    fn unpack_never_panics_on_plausible_prefixes(value in pack_value(), cut in any::<prop::sample::Index>(), flip in any::<(prop::sample::Index, u8)>()) {
        // Truncated and bit-flipped versions of valid input get past the first checks.
        let mut packed = binarypack::pack(&value);
        let _ = binarypack::unpack(&packed[..cut.index(packed.len() + 1)]);
        let at = flip.0.index(packed.len());
        packed[at] ^= flip.1;
        let _ = binarypack::unpack(&packed);
    }

    #[test]
    fn decoders_never_panic(
        serialization in serialization(),
        frames in prop::collection::vec((any::<bool>(), prop::collection::vec(any::<u8>(), 0..300)), 0..20),
    ) {
        let mut decoder = Decoder::new(serialization);
        for (text, bytes) in frames {
            let message = if text {
                ChannelMessage::Text(String::from_utf8_lossy(&bytes).into_owned())
            } else {
                ChannelMessage::Binary(bytes)
            };
            let _ = decoder.decode(message);
        }
    }

    #[test]
    fn decoders_never_panic_on_hostile_chunks(
        chunks in prop::collection::vec((0u64..4, 0u64..6, prop::collection::vec(any::<u8>(), 0..40), 0u64..6), 0..40),
    ) {
        let limits = DecoderLimits { max_message_bytes: 100, max_pieces: 5, max_partials: 2, max_buffered_bytes: 120 };
        let mut decoder = Decoder::with_limits(Serialization::Binary, limits);
        for (id, n, data, total) in chunks {
            let _ = decoder.decode(piece(id, n, &data, total));
            prop_assert!(decoder.partial_count() <= 2);
            prop_assert!(decoder.buffered_bytes() <= 120);
        }
    }

    #[test]
    fn values_cross_every_serialization(serialization in serialization(), value in json_value()) {
        check_crossing(serialization, &value)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn big_values_cross_every_serialization(serialization in serialization(), text in big_string(), extra in json_value()) {
        check_crossing(serialization, &json!({"text": text, "extra": extra}))?;
    }

    /// The default channel is unordered: pieces of several messages arrive shuffled and mixed with junk.
    #[test]
    fn shuffled_interleaved_chunks_with_junk_reassemble(
        texts in prop::collection::vec(big_string(), 1..4),
        order in any::<u64>(),
        junk in prop::collection::vec((any::<usize>(), prop::collection::vec(any::<u8>(), 0..64)), 0..8),
    ) {
        let mut encoder = Encoder::new(Serialization::Binary);
        let mut decoder = Decoder::new(Serialization::Binary);
        let mut messages = Vec::new();
        for text in &texts {
            messages.extend(encoder.encode(&json!(text)).unwrap());
        }
        // A deterministic shuffle from the drawn seed (xorshift), so proptest can shrink and replay.
        let mut seed = order | 1;
        for i in (1..messages.len()).rev() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            messages.swap(i, (seed % (i as u64 + 1)) as usize);
        }
        let mut received = Vec::new();
        for (is_junk, message) in with_junk(messages, junk) {
            match decoder.decode(message) {
                Ok(Some(Received::Value(value))) if !is_junk => received.push(value),
                Ok(Some(_)) => prop_assert!(is_junk, "a piece decoded to something unexpected"),
                Ok(None) => {}
                Err(error) => prop_assert!(is_junk, "a real piece failed: {}", error),
            }
        }
        let mut expected: Vec<serde_json::Value> = texts.iter().map(|t| json!(t)).collect();
        let key = |v: &serde_json::Value| v.as_str().map(str::to_owned);
        expected.sort_by_key(key);
        received.sort_by_key(key);
        prop_assert_eq!(received, expected);
        prop_assert_eq!(decoder.partial_count(), 0);
    }
}
