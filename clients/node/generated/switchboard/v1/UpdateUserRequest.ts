// Original file: switchboard/v1/users.proto

import type { User as _switchboard_v1_User, User__Output as _switchboard_v1_User__Output } from '../../switchboard/v1/User';
import type { FieldMask as _google_protobuf_FieldMask, FieldMask__Output as _google_protobuf_FieldMask__Output } from '../../google/protobuf/FieldMask';

export interface UpdateUserRequest {
  'user'?: (_switchboard_v1_User | null);
  'update_mask'?: (_google_protobuf_FieldMask | null);
}

export interface UpdateUserRequest__Output {
  'user': (_switchboard_v1_User__Output | null);
  'update_mask': (_google_protobuf_FieldMask__Output | null);
}
