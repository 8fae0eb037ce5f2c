// Original file: switchboard/v1/users.proto

import type { User as _switchboard_v1_User, User__Output as _switchboard_v1_User__Output } from '../../switchboard/v1/User';

export interface ListUsersResponse {
  'users'?: (_switchboard_v1_User)[];
  'next_page_token'?: (string);
}

export interface ListUsersResponse__Output {
  'users': (_switchboard_v1_User__Output)[];
  'next_page_token': (string);
}
