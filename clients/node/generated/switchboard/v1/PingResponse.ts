// Original file: switchboard/v1/echo.proto

import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../google/protobuf/Timestamp';

export interface PingResponse {
  'server_time'?: (_google_protobuf_Timestamp | null);
}

export interface PingResponse__Output {
  'server_time': (_google_protobuf_Timestamp__Output | null);
}
