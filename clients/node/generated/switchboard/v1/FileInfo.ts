// Original file: switchboard/v1/files.proto

import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../google/protobuf/Timestamp';
import type { Long } from '@grpc/proto-loader';

export interface FileInfo {
  'name'?: (string);
  'size'?: (number | string | Long);
  'content_type'?: (string);
  'sha256'?: (string);
  'create_time'?: (_google_protobuf_Timestamp | null);
}

export interface FileInfo__Output {
  'name': (string);
  'size': (string);
  'content_type': (string);
  'sha256': (string);
  'create_time': (_google_protobuf_Timestamp__Output | null);
}
