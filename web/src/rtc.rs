//! RTCPeerConnection / RTCDataChannel wrapper (being written).
