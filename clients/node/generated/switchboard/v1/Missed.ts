// Original file: switchboard/v1/chat.proto

import type { Long } from '@grpc/proto-loader';

export interface Missed {
  'count'?: (number | string | Long);
}

export interface Missed__Output {
  'count': (string);
}
