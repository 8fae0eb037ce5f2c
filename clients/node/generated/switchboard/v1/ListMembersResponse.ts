// Original file: switchboard/v1/chat.proto


export interface ListMembersResponse {
  'names'?: (string)[];
}

export interface ListMembersResponse__Output {
  'names': (string)[];
}
