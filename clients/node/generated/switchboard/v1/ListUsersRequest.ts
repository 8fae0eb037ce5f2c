// Original file: switchboard/v1/users.proto


export interface ListUsersRequest {
  'page_size'?: (number);
  'page_token'?: (string);
  'query'?: (string);
}

export interface ListUsersRequest__Output {
  'page_size': (number);
  'page_token': (string);
  'query': (string);
}
