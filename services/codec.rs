//! The protobuf codec of every generated stub: tonic-prost's encoder, and a decoder that
//! answers a message that does not decode (truncated bytes, a string field holding invalid
//! UTF-8, a wrong wire type) with `INVALID_ARGUMENT`. The stock decoder says `INTERNAL`,
//! which tells a client the server is broken when it was the client's bytes that were bad.

use std::marker::PhantomData;

use prost::Message;
use tonic::{
    Status,
    codec::{Codec, DecodeBuf, Decoder},
};
use tonic_prost::{ProstCodec, ProstEncoder};

/// `application/grpc+proto` with prost; named by `codec_path` in `build.rs`.
#[derive(Debug, Clone)]
pub struct ProtoCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for ProtoCodec<T, U> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<T, U> Codec for ProtoCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = ProtoDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstCodec::<T, U>::default().encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        ProtoDecoder(PhantomData)
    }
}

/// Decodes `U`, refusing malformed input with `INVALID_ARGUMENT`.
#[derive(Debug)]
pub struct ProtoDecoder<U>(PhantomData<U>);

impl<U: Message + Default> Decoder for ProtoDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        U::decode(buf)
            .map(Some)
            .map_err(|error| Status::invalid_argument(format!("malformed protobuf message: {error}")))
    }
}

/// Property tests (proptest) of the decoder, through tonic's own message framing. Cases: 256
/// by default (`PROPTEST_CASES` for longer runs); failures are kept in
/// `proptest-regressions/codec.txt` and replayed first.
#[cfg(test)]
mod fuzz {
    use bytes::{BufMut as _, Bytes, BytesMut};
    use http_body_util::Full;
    use proptest::prelude::*;
    use tonic::{Code, codec::Streaming};

    use super::*;
    use crate::pb;

    /// Decodes one gRPC message holding `payload` as a `U`, as a server reads a request.
    fn decode<U: Message + Default + Send + std::fmt::Debug + 'static>(payload: &[u8]) -> Result<Option<U>, Status> {
        let mut framed = BytesMut::new();
        framed.put_u8(0);
        framed.put_u32(payload.len() as u32);
        framed.extend_from_slice(payload);
        let body = Full::new(framed.freeze());
        let mut stream = Streaming::new_request(ProtoDecoder::<U>(PhantomData), body, None, None);
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(stream.message())
    }

    /// Decoded as `U`: the message prost reads, or INVALID_ARGUMENT, and never a panic.
    fn check<U: Message + Default + PartialEq + Send + std::fmt::Debug + 'static>(
        payload: &[u8],
    ) -> Result<(), TestCaseError> {
        match decode::<U>(payload) {
            Ok(message) => prop_assert_eq!(message, Some(U::decode(payload).unwrap())),
            Err(status) => {
                prop_assert_eq!(status.code(), Code::InvalidArgument, "{}", status.message());
                prop_assert!(U::decode(payload).is_err());
            }
        }
        Ok(())
    }

    /// Valid messages, then damaged: truncated, a byte changed, bytes appended.
    fn payload() -> impl Strategy<Value = Vec<u8>> {
        let valid = prop_oneof![
            (any::<String>(), any::<String>()).prop_map(|(key, value)| pb::SetRequest { key, value }.encode_to_vec()),
            (any::<String>(), any::<String>(), any::<i32>()).prop_map(|(username, email, age)| {
                pb::CreateUserRequest { user: Some(pb::User { username, email, age, ..Default::default() }) }
                    .encode_to_vec()
            }),
            (any::<i64>(), any::<String>(), any::<String>()).prop_map(|(amount_minor, currency, customer_id)| {
                pb::CreatePaymentRequest { amount_minor, currency, customer_id, ..Default::default() }.encode_to_vec()
            }),
        ];
        (valid, prop::collection::vec(any::<u8>(), 0..16), any::<prop::sample::Index>(), any::<u8>(), 0..4).prop_map(
            |(mut bytes, extra, at, byte, damage)| {
                match damage {
                    0 => {}
                    1 => bytes.truncate(at.index(bytes.len() + 1)),
                    2 if !bytes.is_empty() => {
                        let at = at.index(bytes.len());
                        bytes[at] = byte;
                    }
                    _ => bytes.extend_from_slice(&extra),
                }
                bytes
            },
        )
    }

    proptest! {
        /// Any bytes, and valid messages damaged, as the request of several rpcs: the message,
        /// or INVALID_ARGUMENT (the client's bytes were bad), never INTERNAL or a panic.
        #[test]
        fn malformed_messages_are_invalid_argument(
            payload in prop_oneof![payload(), prop::collection::vec(any::<u8>(), 0..128)],
        ) {
            check::<pb::SetRequest>(&payload)?;
            check::<pb::CreateUserRequest>(&payload)?;
            check::<pb::UpdateUserRequest>(&payload)?;
            check::<pb::CreatePaymentRequest>(&payload)?;
            check::<pb::ChatRequest>(&payload)?;
            check::<pb::UploadRequest>(&payload)?;
            check::<pb::ListKeysRequest>(&payload)?;
        }
    }

    #[test]
    fn an_empty_body_is_no_message() {
        let body = Full::new(Bytes::new());
        let mut stream = Streaming::new_request(ProtoDecoder::<pb::SetRequest>(PhantomData), body, None, None);
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        assert_eq!(runtime.block_on(stream.message()).unwrap(), None);
    }
}
