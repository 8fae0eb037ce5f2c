// Original file: switchboard/v1/users.proto

import type { User as _switchboard_v1_User, User__Output as _switchboard_v1_User__Output } from '../../switchboard/v1/User';

export interface CreateUserRequest {
  'user'?: (_switchboard_v1_User | null);
}

export interface CreateUserRequest__Output {
  'user': (_switchboard_v1_User__Output | null);
}
